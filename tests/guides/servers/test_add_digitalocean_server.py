"""servers/add-digitalocean-server: DigitalOcean, a credential, the server's settings,
CONFIRM, then the `server:provision` action.

Up to the API boundary: the guide server's DigitalOcean stand-in answers the account (the
credential is valid) but emulates no Droplets, so the action cannot get past "Create the
cloud instance" and is not waited for. Creating the Droplet against a Droplets stand-in,
and provisioning the machine, are checked in tests/remote/test_cloud_servers.py."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.servers.cloud import CREDENTIALS, add_cloud_server, provision_started


def test_add_digitalocean_server(guide: Guide) -> None:
    where = guide.workspace()
    provider, values = CREDENTIALS["digitalocean-droplet"]
    credential = guide.credential(where, provider, "cloud_provider", values)
    server, action_id = add_cloud_server(guide, where, "digitalocean-droplet", credential)
    assert (server.provider_name, server.status) == ("digitalocean", "provisioning")
    provision = provision_started(guide, server, action_id, wait=False)
    assert provision.targets[0].steps[0].name == "Create the cloud instance"
    assert [s.id for s in guide.c.servers.list_environment_servers(where.env.id).data] == [
        server.id
    ]

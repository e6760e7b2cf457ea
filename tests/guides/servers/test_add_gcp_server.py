"""servers/add-gcp-server: Google Cloud Platform, a credential, the server's settings,
CONFIRM, then the `server:provision` action.

Up to the API boundary: the guide server's Google stand-in signs the service account in but
emulates no Compute Engine, so the action cannot get past "Create the cloud instance" and is
not waited for. Creating the instance against a Compute stand-in, and provisioning the
machine, are checked in tests/remote/test_cloud_servers_gcp.py."""

from __future__ import annotations

from tests import standins
from tests.guides.conftest import Guide
from tests.guides.servers.cloud import add_cloud_server, gcp_key_file, provision_started


def test_add_gcp_server(
    guide: Guide, google: standins.GoogleStandIn, standin_url: str
) -> None:
    where = guide.workspace()
    credential = guide.credential(where, "gcp", "cloud_provider",
                                  gcp_key_file(google, standin_url))
    server, action_id = add_cloud_server(guide, where, "gcp-gce", credential)
    assert (server.provider_name, server.status) == ("gcp", "provisioning")
    provision = provision_started(guide, server, action_id, wait=False)
    assert provision.targets[0].steps[0].name == "Create the cloud instance"

"""ssh-keys/link-ssh-key: link a server; it shows in the key's servers."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_link_ssh_key(guide: Guide) -> None:
    where = guide.workspace()
    server = guide.loopback_server(where.env.id)
    key = guide.c.ssh_keys.add_environment_ssh_key(
        where.env.id, {"name": "laptop", "public_key": ssh_keypair()[0]}
    ).data

    # The SDK orders parameters alphabetically: child_id, child_type, resource_id, type.
    linked = guide.c.resource_links.link_resource_link_to_resource_link(
        server.id, "server", key.id, "ssh-key"
    )
    assert linked.status == 204

    # In the Servers list, the recently linked server can be seen.
    assert [s.id for s in guide.c.ssh_keys.get_ssh_key(key.id).data.servers] == [server.id]

"""link/list-link: a resource's LINKS tab lists what it is linked to."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_list_link(guide: Guide) -> None:
    where = guide.workspace()
    server = guide.loopback_server(where.env.id)
    key = guide.c.ssh_keys.add_environment_ssh_key(where.env.id, {
        "name": "laptop", "public_key": ssh_keypair()[0],
        "linked_resources": [{"resource_type": "server", "resource_id": server.id}],
    }).data

    links = guide.c.resource_links.list_resource_links_by_resource_type(key.id, "ssh-key")
    assert links.status == 200
    assert [(link.resource_type, link.resource_id) for link in links.data] == [
        ("server", server.id)
    ]
    # And from the other side.
    server_links = guide.c.resource_links.list_resource_links_by_resource_type(
        server.id, "server").data
    assert ("ssh-key", key.id) in [(link.resource_type, link.resource_id)
                                   for link in server_links]

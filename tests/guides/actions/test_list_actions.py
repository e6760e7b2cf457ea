"""actions/list-actions: every action of the environment, filterable, each openable."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_list_actions(guide: Guide) -> None:
    where = guide.workspace()
    server = guide.loopback_server(where.env.id)
    key = guide.c.ssh_keys.add_environment_ssh_key(where.env.id, {
        "name": "laptop", "public_key": ssh_keypair()[0],
        "linked_resources": [{"resource_type": "server", "resource_id": server.id}],
    }).data
    guide.c.ssh_keys.deploy_ssh_key(key.id, {"servers": [server.id]})

    listed = guide.c.actions.list_environment_actions(where.env.id)
    assert listed.status == 200
    deploys = [a for a in listed.data if a.resource.type == "ssh-key"]
    assert [(a.type, a.resource.id) for a in deploys] == [("deploy", key.id)]
    # Narrowed down by resource.
    by_type = guide.c.actions.list_environment_actions_by_resource_type(
        where.env.id, "ssh-key"
    ).data
    assert [a.id for a in by_type] == [deploys[0].id]
    # The link opens the action's details.
    assert guide.c.actions.get_action(deploys[0].id).data.id == deploys[0].id

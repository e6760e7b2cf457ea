"""ssh-keys/deploy-ssh-key: deploy to the linked servers, an ssh-key:deploy action.

Checked up to the action: its type, resource and target. The key landing in the server's
authorized_keys needs a reachable machine (tests/remote covers the SSH side); here the
server is a loopback port where nothing listens, so the action ends failed at connect.
"""

from __future__ import annotations

import time

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_deploy_ssh_key(guide: Guide) -> None:
    where = guide.workspace()
    server = guide.loopback_server(where.env.id)
    key = guide.c.ssh_keys.add_environment_ssh_key(where.env.id, {
        "name": "laptop", "public_key": ssh_keypair()[0],
        "linked_resources": [{"resource_type": "server", "resource_id": server.id}],
    }).data

    deployed = guide.c.ssh_keys.deploy_ssh_key(key.id, {"servers": [server.id]})
    assert deployed.status in (200, 202, 204)
    action_id = deployed.action_id
    assert action_id is not None

    action = guide.c.actions.get_action(action_id).data
    assert (action.type, action.resource.type) == ("deploy", "ssh-key")
    assert action.resource.id == key.id
    assert [t.resource_id for t in action.targets] == [server.id]
    # Wait for the action to finish: here it can only fail at connect.
    deadline = time.monotonic() + 30
    while action.status not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        action = guide.c.actions.get_action(action_id).data
    assert action.status == "failed"

"""actions/view-action: status and reason, resource, operation, environment, start,
who triggered it; each target's steps and their logs."""

from __future__ import annotations

import time

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_view_action(guide: Guide) -> None:
    where = guide.workspace()
    server = guide.loopback_server(where.env.id)
    key = guide.c.ssh_keys.add_environment_ssh_key(where.env.id, {
        "name": "laptop", "public_key": ssh_keypair()[0],
        "linked_resources": [{"resource_type": "server", "resource_id": server.id}],
    }).data
    guide.c.ssh_keys.deploy_ssh_key(key.id, {"servers": [server.id]})
    action_id = guide.c.actions.list_environment_actions_by_resource_type(
        where.env.id, "ssh-key").data[0].id
    deadline = time.monotonic() + 30
    action = guide.c.actions.get_action(action_id).data
    while action.status not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        action = guide.c.actions.get_action(action_id).data

    # The header.
    assert action.status == "failed"
    assert action.status_reason_human_readable
    assert (action.resource.type, action.type) == ("ssh-key", "deploy")
    assert action.environment.name == where.env.name
    assert action.started_at is not None
    assert action.triggered_by_user.id == guide.c.users.get_user_me().data.id
    # A target, a step, its LOGS.
    target = action.targets[0]
    assert target.resource_id == server.id
    step = target.steps[0]
    log = guide.c.actions.get_action_log(action.id, step.order, target.id)
    assert log.status == 200
    assert log.data.step.output

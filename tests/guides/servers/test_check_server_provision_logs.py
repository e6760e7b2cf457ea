"""servers/check-server-provision-logs: the ACTIONS of the environment's servers, the
provision action's details, and each step's LOGS."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Connected

STATUSES = {"queued", "pending", "in-progress", "completed", "failed"}


def test_check_server_provision_logs(guide: Guide, connected: Connected) -> None:
    env, server = connected.where.env, connected.server
    actions = guide.c.actions.list_environment_actions_by_resource_type(env.id, "server").data
    provision = next(a for a in actions
                     if a.type == "provision" and a.resource.id == server.id)
    assert provision.status in STATUSES

    details = guide.c.actions.get_action(provision.id).data
    [target] = details.targets
    names = [s.name for s in target.steps]
    assert names == ["Verify the connection", "Install base packages and blueprint services",
                     "Check reachability and load"]
    logs = {step.name: guide.c.actions.get_action_log(details.id, step.order, target.id)
            .data.step.output for step in target.steps}
    assert f"Connected as {connected.machine.user}" in logs["Verify the connection"]
    assert "server provisioned" in logs["Install base packages and blueprint services"]
    assert "load average" in logs["Check reachability and load"]

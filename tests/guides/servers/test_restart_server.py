"""servers/restart-server: ACTIONS > Restart, wait for `server:restart`, then the status is
"running".

Up to the API boundary: a self-hosted machine is rebooted by its own `reboot`, which the
suite's machine may not run; the server here is on AWS (moto), rebooted at the provider.
The action's last step logs in to check the server is back, and moto's instance runs no
SSH, so that step cannot pass here (tests/remote/test_cloud_servers.py covers it)."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import step_logs, wait_action
from tests.guides.servers.cloud import aws_server, ec2

__all__ = ["ec2"]


def test_restart_server(guide: Guide, ec2: str) -> None:
    server, _ = aws_server(guide)
    action = wait_action(guide, guide.c.servers.restart_server(server.id).action_id)
    assert (action.type, action.resource.id) == ("restart", server.id)
    reboot, back = action.targets[0].steps
    assert (reboot.name, reboot.status) == ("Reboot the instance", "completed"), step_logs(
        guide, action)
    assert back.name == "Check reachability and load"

    # servers/get-server-status: "The server status will be running".
    status = wait_action(guide, guide.c.servers.get_status_server(server.id).action_id)
    assert status.status == "completed", step_logs(guide, status)
    assert "running" in step_logs(guide, status)
    assert guide.c.servers.get_server(server.id).data.status == "running"

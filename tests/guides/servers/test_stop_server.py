"""servers/stop-server: Stop, wait for `server:stop`, then get the server's status: "stopped".

Self-hosted machines are powered off by their own `poweroff`, which the suite's machine may
not run; the server here is on AWS (moto), powered off at the provider. What happens on the
instance itself cannot be checked: moto's instances run nothing."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import step_logs, wait_action
from tests.guides.servers.cloud import aws_server, ec2

__all__ = ["ec2"]


def test_stop_server(guide: Guide, ec2: str) -> None:
    server, _ = aws_server(guide)

    stopping = guide.c.servers.stop_server(server.id)
    stop = wait_action(guide, stopping.action_id)
    assert (stop.type, stop.resource.id) == ("stop", server.id)
    assert stop.status == "completed", step_logs(guide, stop)
    assert "stopped" in step_logs(guide, stop)

    # servers/get-server-status: "The server status will be stopped".
    status = wait_action(guide, guide.c.servers.get_status_server(server.id).action_id)
    assert status.status == "completed", step_logs(guide, status)
    assert "stopped" in step_logs(guide, status)
    assert guide.c.servers.get_server(server.id).data.status == "stopped"

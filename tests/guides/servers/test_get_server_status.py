"""servers/get-server-status: ACTIONS > Status, wait for `server:get-status`, and its log
tells whether the server is running."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Connected, step_logs, wait_action


def test_get_server_status(guide: Guide, connected: Connected) -> None:
    server = connected.server
    started = guide.c.servers.get_status_server(server.id)
    action = wait_action(guide, started.action_id)
    assert (action.type, action.resource.id) == ("get_status", server.id)
    assert action.status == "completed"
    logs = step_logs(guide, action)
    assert "load average" in logs  # read on the machine
    assert guide.c.servers.get_server(server.id).data.status == "running"

"""servers/start-server: ACTIONS > Start, wait for `server:start`, then the status is
"running". A self-hosted server cannot be powered on from here: starting it checks that
it is back, on the machine."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Connected, step_logs, wait_action


def test_start_server(guide: Guide, connected: Connected) -> None:
    server = connected.server
    action = wait_action(guide, guide.c.servers.start_server(server.id).action_id)
    assert (action.type, action.status) == ("start", "completed"), step_logs(guide, action)
    assert "load average" in step_logs(guide, action)

    status = wait_action(guide, guide.c.servers.get_status_server(server.id).action_id)
    assert status.status == "completed"
    assert guide.c.servers.get_server(server.id).data.status == "running"

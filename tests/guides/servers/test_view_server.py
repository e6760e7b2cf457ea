"""servers/view-server: a server's details view, where its actions run (get-status, start,
stop, restart: their own guides). Followed on a connected server: its details, the
operations it offers, and one of them run from there."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Connected, wait_action


def test_view_server(guide: Guide, connected: Connected) -> None:
    server = guide.c.servers.get_server(connected.server.id).data
    assert (server.name, server.status) == (connected.server.name, "running")
    # The ACTIONS menu: the server's pipelines, one per operation.
    pipelines = guide.c.pipelines.list_pipelines_by_resource_type(server.id, "server").data
    assert {"get_status", "start", "stop", "restart"} <= {p.operation for p in pipelines}
    action = wait_action(guide, guide.c.servers.get_status_server(server.id).action_id)
    assert action.status == "completed"
    listed = guide.c.actions.list_actions_by_resource_type(server.id, "server").data
    assert action.id in [a.id for a in listed]

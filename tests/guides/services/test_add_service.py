"""services/add-service: ADD SERVICE, the prompts (its type and version, the servers it
runs on), CONFIRM; the service's details view shows it. Its status is then read on the
connected server it was added to (a `service:get-status` action); installing it there
needs root, which the suite's machine does not give (tests/remote/test_services.py)."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Connected, step_logs, wait_action


def test_add_service(guide: Guide, connected: Connected) -> None:
    env, server = connected.where.env, connected.server
    service = guide.c.services.add_environment_service(env.id, {
        "type": "supervisor", "version": "latest",
        "linked_resources": [{"resource_type": "server", "resource_id": server.id}],
    }).data
    details = guide.c.services.get_service(service.id).data
    assert (details.type, details.version) == ("supervisor", "latest")
    assert [s.id for s in details.servers] == [server.id]
    assert service.id in [s.id for s in guide.c.services.list_environment_services(env.id).data]

    status = wait_action(guide, guide.c.services.get_status_service(
        service.id, {"servers": [server.id]}).action_id)
    assert [t.resource_id for t in status.targets] == [server.id]
    assert status.status == "completed", step_logs(guide, status)
    # What the machine says about it: whether it runs, and the package installed there.
    installed = connected.machine.sh("dpkg-query -W -f '${Version}' supervisor",
                                     check=False).stdout
    logs = step_logs(guide, status)
    assert "==> supervisor (supervisor):" in logs
    assert f"version={installed}" in logs if installed else "not installed" in logs

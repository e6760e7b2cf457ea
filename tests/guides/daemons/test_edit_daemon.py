"""daemons/edit-daemon: change the command and the number of processes; the details show
them, and once deployed the daemon runs the new command."""

from __future__ import annotations

from tests.guides.app_fixtures import Site
from tests.guides.conftest import unique


def test_edit_daemon(site: Site) -> None:
    c = site.guide.c
    before, after = site.unique_sleep(), site.unique_sleep()
    daemon = c.daemons.add_environment_daemon(site.where.env.id, {
        "name": unique("worker"), "command": f"exec {before}", "process_count": 1,
        "working_directory": str(site.machine.home), "run_as_user": site.machine.user,
        "linked_resources": [{"resource_type": "server", "resource_id": site.server.id}],
    }).data
    site.finished(c.daemons.deploy_daemon(daemon.id, {"servers": [site.server.id]}).action_id)
    assert len(site.pids(before)) == 1

    updated = c.daemons.update_daemon(daemon.id, {
        "id": daemon.id, "name": daemon.name, "command": f"exec {after}", "process_count": 3,
        "working_directory": daemon.working_directory, "run_as_user": daemon.run_as_user,
    })
    assert updated.status in (200, 204)
    # In the Daemon details view, the daemon as updated.
    opened = c.daemons.get_daemon(daemon.id).data
    assert (opened.command, opened.process_count) == (f"exec {after}", 3)
    assert [s.id for s in opened.servers] == [site.server.id]

    # The changed command line restarts the program: the new one, three times.
    site.finished(c.daemons.deploy_daemon(daemon.id, {"servers": [site.server.id]}).action_id)
    assert len(site.pids(after)) == 3
    site.wait_until(lambda: not site.pids(before))

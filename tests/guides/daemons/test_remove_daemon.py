"""daemons/remove-daemon: remove a deployed daemon; it is gone from the list, and its
processes from the server."""

from __future__ import annotations

from tests.guides.app_fixtures import Site
from tests.guides.conftest import unique


def test_remove_daemon(site: Site) -> None:
    c = site.guide.c
    sleep = site.unique_sleep()
    daemon = c.daemons.add_environment_daemon(site.where.env.id, {
        "name": unique("old-worker"), "command": f"exec {sleep}", "process_count": 1,
        "working_directory": str(site.machine.home), "run_as_user": site.machine.user,
        "linked_resources": [{"resource_type": "server", "resource_id": site.server.id}],
    }).data
    site.finished(c.daemons.deploy_daemon(daemon.id, {"servers": [site.server.id]}).action_id)
    assert len(site.pids(sleep)) == 1

    removed = c.daemons.delete_daemon(daemon.id)
    assert removed.status == 204
    # In the list of Daemons, the removed daemon is gone ...
    listed = c.daemons.list_environment_daemons(site.where.env.id).data
    assert daemon.id not in [d.id for d in listed]
    # ... and it no longer runs on the server.
    site.wait_until(lambda: not site.pids(sleep), seconds=60)

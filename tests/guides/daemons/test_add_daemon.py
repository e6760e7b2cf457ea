"""daemons/add-daemon: a daemon of the environment, on its server; once deployed
(pipelines/run-pipeline) it keeps the configured number of processes running, and
restarts a process that dies."""

from __future__ import annotations

import os
import signal

from tests.guides.app_fixtures import Site
from tests.guides.conftest import unique


def test_add_daemon(site: Site) -> None:
    c = site.guide.c
    sleep = site.unique_sleep()
    created = c.daemons.add_environment_daemon(site.where.env.id, {
        "name": unique("queue-worker"), "command": f"exec {sleep}", "process_count": 2,
        "working_directory": str(site.machine.home), "run_as_user": site.machine.user,
        "linked_resources": [{"resource_type": "server", "resource_id": site.server.id}],
    })
    assert created.status == 201
    daemon = created.data

    # In the Daemon details view, the daemon just created.
    opened = c.daemons.get_daemon(daemon.id).data
    assert (opened.name, opened.command, opened.process_count) == (
        daemon.name, f"exec {sleep}", 2)
    assert [s.id for s in opened.servers] == [site.server.id]
    assert daemon.id in [d.id for d in c.daemons.list_environment_daemons(site.where.env.id).data]

    # Deployed, the program is kept alive with the configured number of processes ...
    started = c.daemons.deploy_daemon(daemon.id, {"servers": [site.server.id]})
    site.finished(started.action_id)
    first = site.pids(sleep)
    assert len(first) == 2
    # ... and a process that dies is started again.
    killed = sorted(first)[0]
    os.kill(killed, signal.SIGKILL)
    site.wait_until(lambda: len(site.pids(sleep) - {killed}) == 2)

"""cronjobs/remove-cronjob: remove a deployed cron job; it disappears from the list and
from the crontab (no new executions are scheduled)."""

from __future__ import annotations

from tests.guides.app_fixtures import Site
from tests.guides.conftest import unique


def test_remove_cronjob(site: Site) -> None:
    c = site.guide.c
    name = unique("old-job")
    job = c.cron_jobs.add_environment_cron_job(site.where.env.id, {
        "name": name, "pattern": "@daily", "command": f"echo {name}",
        "run_as_user": site.machine.user,
        "linked_resources": [{"resource_type": "server", "resource_id": site.server.id}],
    }).data
    site.finished(c.cron_jobs.deploy_cron_job(job.id, {"servers": [site.server.id]}).action_id)
    assert f"echo {name}" in site.crontab()

    assert c.cron_jobs.delete_cron_job(job.id).status == 204
    # The cron job disappears from the list ...
    listed = c.cron_jobs.list_environment_cron_jobs(site.where.env.id).data
    assert job.id not in [j.id for j in listed]
    # ... and no new executions will be scheduled from it.
    site.wait_until(lambda: f"echo {name}" not in site.crontab(), seconds=60)

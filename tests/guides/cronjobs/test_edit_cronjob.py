"""cronjobs/edit-cronjob: change the schedule and the command; the job reflects them, and
once deployed the crontab holds the new entry instead of the old one."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.app_fixtures import Site
from tests.guides.conftest import unique


def test_edit_cronjob(site: Site) -> None:
    c = site.guide.c
    name = unique("report")
    job = c.cron_jobs.add_environment_cron_job(site.where.env.id, {
        "name": name, "pattern": "0 * * * *", "command": f"echo {name} hourly",
        "run_as_user": site.machine.user,
        "linked_resources": [{"resource_type": "server", "resource_id": site.server.id}],
    }).data
    site.finished(c.cron_jobs.deploy_cron_job(job.id, {"servers": [site.server.id]}).action_id)

    updated = c.cron_jobs.update_cron_job(job.id, {
        "id": job.id, "name": name, "pattern": "*/15 * * * *",
        "command": f"echo {name} quarterly", "run_as_user": job.run_as_user,
    })
    assert updated.status in (200, 204)
    # The cron job reflects the new settings ...
    opened = c.cron_jobs.get_cron_job(job.id).data
    assert (opened.pattern, opened.command) == ("*/15 * * * *", f"echo {name} quarterly")

    # ... and next executions follow the updated schedule.
    site.finished(c.cron_jobs.deploy_cron_job(job.id, {"servers": [site.server.id]}).action_id)
    entries = [line for line in site.crontab().splitlines()
               if name in line and not line.startswith("#")]
    assert entries == [f"*/15 * * * * echo {name} quarterly"]

    # Common issue: a schedule that does not parse.
    with pytest.raises(DevopnessApiError) as invalid:
        c.cron_jobs.update_cron_job(job.id, {
            "id": job.id, "name": name, "pattern": "61 * * * *", "command": "true",
            "run_as_user": job.run_as_user,
        })
    assert invalid.value.status_code == 422
    assert "pattern" in (invalid.value.errors or {})

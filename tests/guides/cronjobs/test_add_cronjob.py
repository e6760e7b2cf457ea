"""cronjobs/add-cronjob: a name, a schedule and a command; the job is in the list, and
once deployed (pipelines/run-pipeline) it is in the run-as user's crontab on the server,
on that schedule."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.app_fixtures import Site
from tests.guides.conftest import unique


def test_add_cronjob(site: Site) -> None:
    c = site.guide.c
    name = unique("nightly-cleanup")
    command = f"find /tmp -name '{name}-*' -delete"
    created = c.cron_jobs.add_environment_cron_job(site.where.env.id, {
        "name": name, "pattern": "30 2 * * *", "command": command,
        "run_as_user": site.machine.user,
        "linked_resources": [{"resource_type": "server", "resource_id": site.server.id}],
    })
    assert created.status == 201
    job = created.data

    # The new cron job appears in the cron jobs list.
    listed = c.cron_jobs.list_environment_cron_jobs(site.where.env.id).data
    assert (job.id, name, "30 2 * * *") in [(j.id, j.name, j.pattern) for j in listed]

    # The schedule starts: the entry is in the user's crontab, on the defined interval.
    site.finished(c.cron_jobs.deploy_cron_job(job.id, {"servers": [site.server.id]}).action_id)
    entries = [line for line in site.crontab().splitlines() if command in line]
    assert entries == [f"30 2 * * * {command}"]

    # Common issue: an invalid cron expression.
    with pytest.raises(DevopnessApiError) as invalid:
        c.cron_jobs.add_environment_cron_job(site.where.env.id, {
            "name": unique("broken"), "pattern": "every night", "command": "true",
            "run_as_user": site.machine.user,
        })
    assert invalid.value.status_code == 422
    assert "pattern" in (invalid.value.errors or {})

"""A deploy whose worker is lost after "Activate release" switched `current` and before the
deploy was checked: its retry must treat the release the lost deploy made live as unchecked.
The retry is a new action that fetches a release of its own, so without that it would take
the lost deploy's release for "the release live before" (a failing health check switching
back to it) and a retried rollback would roll back a second time."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pwd
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.applications.models import Application
from app.core.settings import Settings
from tests import resource_factories as rf
from tests.actions.test_workers import sigkill_once_started
from tests.remote.conftest import Remote
from tests.remote.git_repos import GitRepo, make_repo
from tests.remote.test_application_deploy import (
    MAIN,
    add_variable,
    current,
    deploy,
    deploy_unrun,
    engine_process,
    new_application,
    release_of,
)
from workers.engine.reaper import reap


@pytest.fixture
def source(remote: Remote) -> GitRepo:
    repo = make_repo(remote)
    repo.commit({"app.txt": "v1\n"}, "first")
    return repo


@contextlib.contextmanager
def crontab_locked(remote: Remote) -> Any:
    """Hold the lock the deploy's scripts take before they change the user's crontab, so
    "Activate release" stops right after its switch of `current` (its cron jobs come last).
    Yields a function that releases it."""
    user = pwd.getpwnam(remote.user)
    path = Path(f"/tmp/devopness-crontab-{user.pw_uid}.lock")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchown(fd, user.pw_uid, user.pw_gid)
    fcntl.flock(fd, fcntl.LOCK_EX)
    held = [True]

    def release() -> None:
        if held[0]:
            held[0] = False
            fcntl.flock(fd, fcntl.LOCK_UN)

    try:
        yield release
    finally:
        release()
        os.close(fd)
        path.unlink(missing_ok=True)


def waiting_for_lock(remote: Remote) -> list[str]:
    """Pids of the user's processes waiting for the crontab lock."""
    found = subprocess.run(["pgrep", "-u", remote.user, "-x", "flock"], capture_output=True,
                           text=True, check=False)
    return found.stdout.split()


@pytest.fixture
async def application(db: AsyncSession, remote: Remote, source: GitRepo) -> Application:
    """The application on the test's server, with a cron job (installed last on activate)."""
    application = await new_application(db, remote, source)
    job = await rf.create_cron_job(db, remote.tenant, application_id=application.id,
                                   run_as_user=remote.user, pattern="0 3 * * *",
                                   command="echo tick")
    await rf.link(db, "cronjob", job.id, remote.server)
    return application


@contextlib.asynccontextmanager
async def lost_after_switch(
    client: httpx.AsyncClient, remote: Remote, app: Any, settings: Settings,
    application: Application, body: dict[str, Any],
) -> AsyncIterator[int]:
    """Start `body` on the application in a worker process of its own, SIGKILL that worker
    once its activate step switched `current`, and reap the action (failed, as the reaper
    leaves it). Yields its id; the crontab lock holds the lost session until the caller's
    retry has stopped it, then it is released."""
    with crontab_locked(remote) as release:
        action_id = await deploy_unrun(client, remote, app, application.id, body)
        await sigkill_once_started(app, action_id, engine_process(settings, action_id),
                                   tries=600, printed="current -> releases/")
        await asyncio.sleep(1.2)
        assert await reap(
            app.state.database, settings.model_copy(update={"action_stale_seconds": 1})
        ) == [action_id]
        stuck = waiting_for_lock(remote)
        assert stuck, "the lost session should be waiting for the crontab lock"
        yield action_id
        # The retry stops what the lost worker left running before it deploys; the lock
        # goes only then, so the lost session never finishes its step on its own.
        for _ in range(600):
            if not set(stuck) & set(waiting_for_lock(remote)):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the retry did not stop the lost deploy's session")
        release()


async def retry(client: httpx.AsyncClient, remote: Remote, action_id: int) -> int:
    r = await client.post(f"/actions/{action_id}/retry", headers=remote.tenant.headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_a_retried_deploy_failing_its_health_check_goes_back_to_the_checked_release(
    client: httpx.AsyncClient, remote: Remote, source: GitRepo, application: Application,
    app: Any, settings: Settings,
) -> None:
    await add_variable(client, remote, application.id, "DEVOPNESS_HEALTH_CHECK_COMMAND",
                       "grep -q v1 app.txt")
    await add_variable(client, remote, application.id, "DEVOPNESS_HEALTH_CHECK_RETRIES", "1")
    good = await deploy(client, remote, application.id)
    good_release = release_of(good)

    source.commit({"app.txt": "broken\n"}, "second")
    async with lost_after_switch(client, remote, app, settings, application, MAIN) as lost:
        # The lost deploy's release is live, and was never checked.
        assert current(remote, application.name) != f"releases/{good_release}"
        again = await retry(client, remote, lost)
    done = await remote.wait(client, again, expect="failed")
    logs = await remote.logs(client, done)
    assert "health check failed" in logs
    assert f"current switched back to release {good_release}" in logs, logs
    assert current(remote, application.name) == f"releases/{good_release}"
    assert (remote.home / application.name / "current/app.txt").read_text() == "v1\n"


async def test_a_retried_rollback_does_not_roll_back_twice(
    client: httpx.AsyncClient, remote: Remote, source: GitRepo, application: Application,
    app: Any, settings: Settings,
) -> None:
    await deploy(client, remote, application.id)
    source.commit({"app.txt": "v2\n"}, "second")
    second = release_of(await deploy(client, remote, application.id))
    source.commit({"app.txt": "v3\n"}, "third")
    await deploy(client, remote, application.id)

    async with lost_after_switch(client, remote, app, settings, application,
                                 {"type": "rollback"}) as lost:
        assert current(remote, application.name) == f"releases/{second}"
        again = await retry(client, remote, lost)
    done = await remote.wait(client, again)
    assert current(remote, application.name) == f"releases/{second}"
    assert (remote.home / application.name / "current/app.txt").read_text() == "v2\n"
    assert f"rolling back from release {second}" not in await remote.logs(client, done)

"""A cron job of an application, from the user's side: it runs in the application's live
release with the application's variables and its runtime first on PATH; the
application's deploy installs it; deploying it before the application has a release says
to deploy the application first."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.applications.runtimes import bin_directory
from tests.remote.conftest import Remote
from tests.remote.git_repos import make_repo
from tests.remote.test_application_deploy import release_path
from tests.remote.test_cron_jobs import crontab

GREETING = "it's 100% \"quoted\" $HOME"


async def _post(client: httpx.AsyncClient, remote: Remote, path: str,
                body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body, headers=remote.tenant.headers)
    assert r.status_code in (200, 201, 204), r.text
    return r.json() if r.content else {}


def run_like_cron(remote: Remote, line: str) -> subprocess.CompletedProcess[str]:
    """The crontab line's command, run the way cron does: /bin/sh, the user's HOME, cron's
    short PATH, `\\%` a literal %."""
    command = line.split(" ", 5)[5]
    assert "%" not in command.replace("\\%", "")
    runuser = shutil.which("runuser")
    assert runuser is not None
    return subprocess.run(
        [runuser, "-u", remote.user, "--", "/bin/sh", "-c", command.replace("\\%", "%")],
        env={"HOME": str(remote.home), "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"},
        cwd=str(remote.home), capture_output=True, text=True, timeout=60,
    )


async def test_application_cron_job_runs_in_the_live_release_with_its_environment(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    relative = bin_directory("python", "3.12")
    assert relative is not None
    bin_dir = remote.home / relative
    remote.sh(f"mkdir -p {shlex.quote(str(bin_dir))}")
    tool = bin_dir / "report-tool"
    tool.write_text('#!/bin/sh\necho "runtime tool: $GREETING"\n')
    tool.chmod(0o755)
    entry = pwd.getpwnam(remote.user)
    os.chown(tool, entry.pw_uid, entry.pw_gid)
    repo = make_repo(remote)
    repo.commit({"app.txt": "v1\n"}, "first")

    env = remote.tenant.environment.id
    app = await _post(client, remote, f"/environments/{env}/applications", {
        "name": "reports", "repository": str(repo.bare), "credential_id": 1,
        "programming_language": "python", "framework": "flask", "engine_version": "3.12",
        "default_branch": "main",
        "linked_resources": [{"resource_type": "server", "resource_id": remote.server.id}],
    })
    await _post(client, remote, f"/variables/application/{app['id']}", {
        "key": "GREETING", "value": GREETING, "target": "os-env-var", "type": "variable",
        "hidden": True,
    })
    job = await _post(client, remote, f"/environments/{env}/cron-jobs", {
        "name": "nightly report", "pattern": "0 3 * * *", "run_as_user": remote.user,
        "application_id": app["id"],
        "command": "report-tool > ~/cron-out.txt; cat app.txt >> ~/cron-out.txt; "
                   "pwd -P >> ~/cron-out.txt; date +%Y >> ~/cron-out.txt",
    })

    # Before the application's first release: a clear failure, nothing installed.
    early = await remote.operate(client, f"/cron-jobs/{job['id']}/deploy", expect="failed")
    assert "which has none on this server yet: deploy the application" in (
        await remote.logs(client, early))
    assert remote.sh("crontab -l", check=False).returncode != 0

    # The application's deploy installs it.
    first = await remote.operate(client, f"/applications/{app['id']}/deployments",
                                 {"type": "deploy"})
    logs = await remote.logs(client, first)
    assert f"installed cron job {job['id']}" in logs
    assert GREETING not in logs
    line = next(x for x in crontab(remote).splitlines() if x.startswith("0 3 * * * "))
    out = run_like_cron(remote, line)
    assert out.returncode == 0, out.stdout + out.stderr
    year = f"{datetime.now().year}\n"
    app_dir = remote.home / "reports"
    assert remote.read("cron-out.txt") == (
        f"runtime tool: {GREETING}\nv1\n{release_path(app_dir, first)}\n{year}")

    # Next release: the same entry now runs there.
    repo.commit({"app.txt": "v2\n"}, "second")
    second = await remote.operate(client, f"/applications/{app['id']}/deployments",
                                  {"type": "deploy"})
    assert f"cron job {job['id']} is already installed" in await remote.logs(client, second)
    assert line in crontab(remote)
    assert run_like_cron(remote, line).returncode == 0
    assert remote.read("cron-out.txt").splitlines()[1:3] == [
        "v2", release_path(app_dir, second)]

    # Deploying the job itself now works (the environment file is the same).
    await remote.operate(client, f"/cron-jobs/{job['id']}/deploy")

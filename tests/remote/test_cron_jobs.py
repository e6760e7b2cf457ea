"""Cron jobs for real: the run-as user's crontab on the loopback server, read back with
`crontab -l` as that user."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import FINISHED, Action, ActionLogChunk, ActionStep
from tests import resource_factories as rf
from tests.remote.conftest import Remote, create_os_user, delete_os_user

# The user's own entries, with the odd spacing and comments people write by hand.
USER_CRONTAB = (
    "# my own jobs\n"
    "MAILTO=\"\"\n"
    "*/5  * * * *   /usr/bin/true   # keep me\n"
    "@reboot echo 'back up'\n"
)


def crontab(remote: Remote) -> str:
    return remote.sh("crontab -l").stdout


async def finish_removal(
    db: AsyncSession, resource_type: str, resource_id: int, *, expect: str = "completed"
) -> str:
    """Wait for the `remove` action that deleting the resource started; its step logs.

    Read from the database: GET /actions/{id} of a removal shows `action_data.env` (the
    parameters captured at deletion), which the reference's ActionData does not allow."""
    deadline = time.monotonic() + 120
    while True:
        await db.commit()  # a fresh read transaction sees the engine's progress
        row = (await db.execute(
            select(Action.id, Action.status).where(
                Action.resource_type == resource_type, Action.resource_id == resource_id,
                Action.type == "remove")
        )).first()
        assert row is not None, "deleting the resource started no removal"
        action_id, status = row
        if status in FINISHED or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    chunks = await db.scalars(
        select(ActionLogChunk.data).join(ActionStep, ActionStep.id == ActionLogChunk.action_step_id)
        .where(ActionStep.action_id == action_id).order_by(ActionStep.id, ActionLogChunk.seq)
    )
    logs = "".join(chunks)
    assert status == expect, f"removal is {status}, not {expect}:\n{logs}"
    return logs


async def test_deploy_is_idempotent_update_replaces_delete_removes(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    remote.sh(f"printf %s {shlex.quote(USER_CRONTAB)} | crontab -")
    job = await rf.create_cron_job(
        db, remote.tenant, run_as_user=remote.user, pattern="*/15 * * * *",
        command="date +%Y-%m-%d >> ~/dates.log",
    )
    await rf.link(db, "cronjob", job.id, remote.server)

    action = await remote.operate(client, f"/cron-jobs/{job.id}/deploy")
    installed = crontab(remote)
    assert installed == USER_CRONTAB + (
        f"# BEGIN devopness cronjob {job.id}\n"
        f"# {job.name}\n"
        "*/15 * * * * date +\\%Y-\\%m-\\%d >> ~/dates.log\n"
        f"# END devopness cronjob {job.id}\n"
    )
    assert "installed cron job" in await remote.logs(client, action)

    action = await remote.operate(client, f"/cron-jobs/{job.id}/deploy")
    assert crontab(remote) == installed
    assert "unchanged" in await remote.logs(client, action)

    # Edit the job, deploy: the block is replaced where it was, never duplicated.
    r = await client.put(f"/cron-jobs/{job.id}", json={
        "id": job.id, "name": "nightly", "command": "echo 'a\\%b' > ~/out.txt",
        "pattern": "@daily", "run_as_user": remote.user,
    }, headers=remote.tenant.headers)
    assert r.status_code == 204, r.text
    await remote.operate(client, f"/cron-jobs/{job.id}/deploy")
    assert crontab(remote) == USER_CRONTAB + (
        f"# BEGIN devopness cronjob {job.id}\n"
        "# nightly\n"
        "@daily echo 'a\\%b' > ~/out.txt\n"
        f"# END devopness cronjob {job.id}\n"
    )

    # A second job of ours sits next to the first and survives its removal.
    other = await rf.create_cron_job(db, remote.tenant, run_as_user=remote.user,
                                     command="echo other")
    await rf.link(db, "cronjob", other.id, remote.server)
    await remote.operate(client, f"/cron-jobs/{other.id}/deploy")

    r = await client.delete(f"/cron-jobs/{job.id}", headers=remote.tenant.headers)
    assert r.status_code == 204, r.text
    await finish_removal(db, "cronjob", job.id)
    assert crontab(remote) == USER_CRONTAB + (
        f"# BEGIN devopness cronjob {other.id}\n"
        f"# {other.name}\n"
        "0 0 * * * echo other\n"
        f"# END devopness cronjob {other.id}\n"
    )
    r = await client.delete(f"/cron-jobs/{other.id}", headers=remote.tenant.headers)
    assert r.status_code == 204, r.text
    await finish_removal(db, "cronjob", other.id)
    assert crontab(remote) == USER_CRONTAB

    # The server is still reachable for the next operation.
    await remote.operate(client, f"/servers/{remote.server.id}/get-status")


async def test_the_entry_really_runs_under_cron_syntax(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    """What we install is what cron would run: the installed line, handed to a shell the
    way cron does (% -> newline unless escaped), writes the expected output."""
    job = await rf.create_cron_job(db, remote.tenant, run_as_user=remote.user,
                                   command="printf '%s\\n' \"100%\" > ~/cron-out.txt")
    await rf.link(db, "cronjob", job.id, remote.server)
    await remote.operate(client, f"/cron-jobs/{job.id}/deploy")
    line = next(x for x in crontab(remote).splitlines() if x.startswith("0 0 * * * "))
    command = line.removeprefix("0 0 * * * ")
    # cron's rule: an unescaped % ends the command; \% is a literal %.
    assert "%" not in command.replace("\\%", "")
    remote.sh(command.replace("\\%", "%"))
    assert remote.read("cron-out.txt") == "100%\n"


async def test_a_user_without_crontab_gets_one_and_loses_it_again(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    assert remote.sh("crontab -l", check=False).returncode != 0
    job = await rf.create_cron_job(db, remote.tenant, run_as_user=remote.user,
                                   pattern="@hourly", command="echo tick")
    await rf.link(db, "cronjob", job.id, remote.server)
    await remote.operate(client, f"/cron-jobs/{job.id}/deploy")
    assert "@hourly echo tick" in crontab(remote)
    r = await client.delete(f"/cron-jobs/{job.id}", headers=remote.tenant.headers)
    assert r.status_code == 204
    await finish_removal(db, "cronjob", job.id)
    assert remote.sh("crontab -l", check=False).returncode != 0


async def test_removing_a_job_that_is_not_there_changes_nothing(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    assert remote.sh("crontab -l", check=False).returncode != 0
    never = await rf.create_cron_job(db, remote.tenant, run_as_user=remote.user)
    gone_user = await rf.create_cron_job(db, remote.tenant, run_as_user="nosuchuser")
    for job in (never, gone_user):
        await rf.link(db, "cronjob", job.id, remote.server)
        r = await client.delete(f"/cron-jobs/{job.id}", headers=remote.tenant.headers)
        assert r.status_code == 204
    logs = await finish_removal(db, "cronjob", never.id)
    assert f"{remote.user} has no crontab: cron job {never.id} is not installed" in logs
    logs = await finish_removal(db, "cronjob", gone_user.id)
    assert "user 'nosuchuser' does not exist on this server: no crontab to clean" in logs
    assert remote.sh("crontab -l", check=False).returncode != 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pattern": "every day"}, "invalid cron pattern"),
        ({"pattern": "* * * *"}, "needs 5 fields"),
        ({"pattern": "* * * * * *"}, "needs 5 fields"),
        ({"pattern": "* * * * ;"}, "bad field"),
        ({"command": "echo a\n* * * * * rm -rf ~"}, "single line"),
        ({"run_as_user": "nosuchuser"}, "does not exist"),
    ],
)
async def test_bad_input_fails_before_touching_the_crontab(
    overrides: dict[str, str], message: str,
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote,
) -> None:
    remote.sh(f"printf %s {shlex.quote(USER_CRONTAB)} | crontab -")
    # Straight into the database: the API refuses these, the script must refuse them too.
    job = await rf.create_cron_job(db, remote.tenant, **({"run_as_user": remote.user}
                                                         | overrides))
    await rf.link(db, "cronjob", job.id, remote.server)
    action = await remote.operate(client, f"/cron-jobs/{job.id}/deploy", expect="failed")
    assert message in await remote.logs(client, action)
    assert crontab(remote) == USER_CRONTAB


async def test_another_users_crontab_needs_root(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    job = await rf.create_cron_job(db, remote.tenant, run_as_user="root")
    await rf.link(db, "cronjob", job.id, remote.server)
    action = await remote.operate(client, f"/cron-jobs/{job.id}/deploy", expect="failed")
    logs = await remote.logs(client, action)
    assert "needs root" in logs and "passwordless sudo" in logs


@pytest.fixture
def sudo_for(remote: Remote) -> Iterator[str]:
    """Passwordless sudo for the SSH user, and another OS user to run cron jobs as."""
    rule = Path(f"/etc/sudoers.d/{remote.user}")
    rule.write_text(f"{remote.user} ALL=(ALL) NOPASSWD: ALL\n")
    rule.chmod(0o440)
    other, _ = create_os_user()
    try:
        yield other
    finally:
        rule.unlink(missing_ok=True)
        delete_os_user(other)


async def test_another_users_crontab_through_sudo(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, sudo_for: str
) -> None:
    def other_crontab() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["crontab", "-u", sudo_for, "-l"], capture_output=True,
                              text=True, check=False)

    def install_other_crontab(text: str) -> None:
        subprocess.run(["crontab", "-u", sudo_for, "-"], input=text, text=True, check=True)

    install_other_crontab(USER_CRONTAB)
    job = await rf.create_cron_job(db, remote.tenant, run_as_user=sudo_for,
                                   command="echo as-other")
    await rf.link(db, "cronjob", job.id, remote.server)
    await remote.operate(client, f"/cron-jobs/{job.id}/deploy")
    assert other_crontab().stdout == USER_CRONTAB + (
        f"# BEGIN devopness cronjob {job.id}\n# {job.name}\n0 0 * * * echo as-other\n"
        f"# END devopness cronjob {job.id}\n"
    )
    # Not in the SSH user's own crontab.
    assert remote.sh("crontab -l", check=False).returncode != 0
    await remote.operate(client, f"/cron-jobs/{job.id}/deploy")
    r = await client.delete(f"/cron-jobs/{job.id}", headers=remote.tenant.headers)
    assert r.status_code == 204
    await finish_removal(db, "cronjob", job.id)
    assert other_crontab().stdout == USER_CRONTAB


async def test_another_tenant_cannot_deploy(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    job = await rf.create_cron_job(db, remote.tenant, run_as_user=remote.user)
    await rf.link(db, "cronjob", job.id, remote.server)
    other = await rf.create_tenant(db)
    r = await client.post(f"/cron-jobs/{job.id}/deploy", json={}, headers=other.headers)
    assert r.status_code == 404
    assert remote.sh("crontab -l", check=False).returncode != 0


async def test_jobs_deployed_at_once_are_all_installed(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    jobs = [await rf.create_cron_job(db, remote.tenant, run_as_user=remote.user,
                                     command=f"echo job {n}") for n in range(4)]
    for job in jobs:
        await rf.link(db, "cronjob", job.id, remote.server)
    await asyncio.gather(*(remote.operate(client, f"/cron-jobs/{job.id}/deploy")
                           for job in jobs))
    installed = crontab(remote)
    for n, job in enumerate(jobs):
        assert installed.count(f"# BEGIN devopness cronjob {job.id}\n") == 1
        assert f"0 0 * * * echo job {n}\n" in installed

"""What reaches a shell, on a real server: stored variables the scripts read, values that
reach a script as data, result lines printed by user code, crontab markers, and how long
the nginx reload wait really takes."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.servers.models import Server
from tests import resource_factories as rf
from tests.remote.conftest import Remote
from tests.remote.git_repos import make_repo
from tests.remote.test_application_deploy import action_data, deploy, new_application
from tests.virtual_hosts.nginx_layout import make_layout


def _seconds(step: dict[str, Any]) -> float:
    start = datetime.fromisoformat(step["started_at"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(step["completed_at"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def _planted(remote: Remote) -> Path:
    """A program that records who ran it, where a variable could name it."""
    evil = remote.home / "evil"
    evil.write_text(f"#!/bin/sh\nid -u > {remote.home}/ran-as\nexec /usr/sbin/nginx \"$@\"\n")
    evil.chmod(0o755)
    return evil


async def test_stored_nginx_binary_and_path_are_never_run(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    """Rows the API now refuses (stored before, say) never decide what runs: the
    virtual host is deployed with the real nginx and the planted program never runs."""
    nginx = await make_layout(db, remote)
    evil = _planted(remote)
    for key, value in (("DEVOPNESS_NGINX_BIN", str(evil)),
                       ("PATH", f"{remote.home}:/usr/bin:/bin"), ("BASH_ENV", str(evil))):
        await rf.create_variable(db, remote.tenant, "server", remote.server.id, key=key,
                                 value_plain=value)
    www = remote.home / "www"
    www.mkdir()
    (www / "index.html").write_text("ok")
    # A value that reaches a script as data: a root directory shaped like a command.
    host = await rf.create_virtual_host(db, remote.tenant, name="shop.example.com",
                                        root_directory=f"{www}/`touch {remote.home}/pwned`")
    await rf.link(db, "virtual-host", host.id, remote.server)
    nginx.start()
    await remote.operate(client, f"/virtual-hosts/{host.id}/deploy")
    assert not (remote.home / "ran-as").exists()
    assert not (remote.home / "pwned").exists()
    assert f'root "{www}/`touch {remote.home}/pwned`";' in nginx.available(host.id).read_text()


async def test_nginx_reload_step_is_quick(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    """The reload waits for new workers, not for its whole retry budget (a `| grep -q`
    under pipefail made every deploy wait 5 s or more)."""
    nginx = await make_layout(db, remote)
    www = remote.home / "www"
    www.mkdir()
    (www / "index.html").write_text("ok")
    host = await rf.create_virtual_host(db, remote.tenant, name="fast.example.com",
                                        root_directory=str(www))
    await rf.link(db, "virtual-host", host.id, remote.server)
    nginx.start()
    started = time.monotonic()
    action = await remote.operate(client, f"/virtual-hosts/{host.id}/deploy")
    wall = time.monotonic() - started
    steps = [s for t in action["targets"] for s in t["steps"]]
    logs = await remote.logs(client, action)
    assert "nginx reloaded" in logs
    durations = [_seconds(s) for s in steps]
    # Well under the old wait (50 tries of 0.1 s) even on a busy 2-core machine.
    print(f"virtual host deploy steps: {durations} (request to completed {wall:.2f} s)")
    assert max(durations) < 2.0, (durations, wall)


async def test_a_cron_job_named_like_a_marker_leaves_other_jobs_alone(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    first = await rf.create_cron_job(db, remote.tenant, run_as_user=remote.user,
                                     command="echo first")
    await rf.link(db, "cronjob", first.id, remote.server)
    await remote.operate(client, f"/cron-jobs/{first.id}/deploy")
    # Names chosen to read as the first job's markers and the renewal block's.
    tricky = []
    for name in (f"BEGIN devopness cronjob {first.id}", f"END devopness cronjob {first.id}",
                 "BEGIN devopness certbot-renew"):
        r = await client.post(
            f"/environments/{remote.tenant.environment.id}/cron-jobs",
            json={"name": name, "command": f"echo {len(tricky)}", "pattern": "0 0 * * *",
                  "run_as_user": remote.user,
                  "linked_resources": [{"resource_type": "server",
                                        "resource_id": remote.server.id}]},
            headers=remote.tenant.headers,
        )
        assert r.status_code == 201, r.text
        tricky.append(r.json()["id"])
        await remote.operate(client, f"/cron-jobs/{r.json()['id']}/deploy")
    # Redeploying and removing the first job touches only its own block.
    await remote.operate(client, f"/cron-jobs/{first.id}/deploy")
    installed = remote.sh("crontab -l").stdout
    for number, job_id in enumerate(tricky):
        assert f"0 0 * * * echo {number}\n" in installed, installed
        assert installed.count(f"# BEGIN devopness cronjob {job_id}\n") == 1
    assert installed.count("0 0 * * * echo first\n") == 1, installed
    await remote.operate(client, f"/cron-jobs/{tricky[1]}/deploy")
    await remote.operate(client, f"/cron-jobs/{first.id}/deploy")
    assert remote.sh("crontab -l").stdout == installed


async def test_result_lines_printed_by_user_code_change_nothing(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    """A build command (user code run inside a built-in step) prints result lines: the
    recorded commit stays the real one and the server record is untouched."""
    repo = make_repo(remote)
    sha = repo.commit({"app.txt": "v1\n"}, "first")
    application = await new_application(
        db, remote, repo,
        build_command="echo '##devopness-result commit=0000forged'; "
                      "echo '##devopness-result ip_address=203.0.113.66'; "
                      "echo \"##devopness-result ${DV_RESULT_TOKEN:-none} commit=0000forged\"",
    )
    before = await db.get(Server, remote.server.id)
    assert before is not None
    address = before.ip_address
    action = await deploy(client, remote, application.id)
    data = await action_data(db, action["id"])
    assert data["commit"]["hash"] == sha
    assert "0000forged" not in str(data)
    await db.refresh(before)
    assert before.ip_address == address

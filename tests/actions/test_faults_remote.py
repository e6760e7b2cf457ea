"""No step left running on a server: against the system's OpenSSH sshd.

- A worker SIGKILLed mid-step: the action is reaped and retried, and the retry stops the
  step the dead worker left running before it runs that step again.
- A step run as root by a non-root SSH user (through sudo), cancelled or timed out: no
  process of the step survives, not even one that left its process group."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.settings import Settings
from tests.actions import fs
from tests.actions.conftest import World, add_step, run_pipeline, wait_action
from tests.actions.ssh_servers import OpenSSHServer
from tests.actions.test_workers import (
    _create_action,
    _spawn,
    _step_output,
    _worker_env,
    sigkill_once_started,
)
from tests.remote.conftest import create_os_user, delete_os_user
from workers.engine.reaper import reap


def _alive(pattern: str, *, user: str | None = None) -> list[str]:
    """Processes on this machine (the loopback server) whose command line matches."""
    owner = ["-u", user] if user else []
    found = subprocess.run(["pgrep", "-a", *owner, "-f", pattern], capture_output=True,
                           text=True)
    return found.stdout.splitlines()


def _access_file(tmp_path: Path, world: World) -> Path:
    access = world.servers.access[101]
    path = tmp_path / "access.json"
    path.write_text(json.dumps({
        "servers": {"101": {**dataclasses.asdict(access), "host_key": None}},
        "application_servers": [101],
    }))
    return path


async def test_retry_first_stops_the_step_a_killed_worker_left_running(
    client: httpx.AsyncClient, world: World, openssh_server: OpenSSHServer, app: Any,
    settings: Settings, tmp_path: Path,
) -> None:
    world.servers.add(101, openssh_server.port)
    token = f"{uuid.uuid4().int % 10**6:06d}"
    pattern = f"slee[p] 987.{token}"
    flag = f"/tmp/dvp-retry-{token}"
    await add_step(
        client, world,
        # `$d`: the step's own command line must not match the pattern.
        f"d=987; if [ -f {flag} ]; then if pgrep -f '{pattern}' >/dev/null; then"
        f" echo twice-at-once; exit 1; fi; echo recovered; else echo started;"
        f" sleep $d.{token}; fi",
    )
    action_id = await _create_action(app, world, world.project.user_id)
    worker = _spawn([sys.executable, "-m", "workers.engine", str(action_id)],
                    _worker_env(settings, _access_file(tmp_path, world)))
    await sigkill_once_started(app, action_id, worker, tries=600)
    assert _alive(pattern), "the dead worker's step should still be running on the server"
    await asyncio.sleep(1.2)
    assert await reap(
        app.state.database, settings.model_copy(update={"action_stale_seconds": 1})
    ) == [action_id]

    fs.touch(flag)
    retry = await client.post(f"/actions/{action_id}/retry", headers=world.headers)
    assert retry.status_code == 201, retry.text
    done = await wait_action(client, world, retry.json()["id"])
    assert done["status"] == "completed", done
    assert "recovered" in await _step_output(app, done["id"])
    assert not _alive(pattern)


@pytest.fixture
def sudo_user() -> Iterator[str]:
    """A non-root SSH user allowed to run anything as root without a password, as the
    product's connect script sets its user up."""
    user, _home = create_os_user()
    rule = Path(f"/etc/sudoers.d/{user}")
    rule.write_text(f"{user} ALL=(ALL) NOPASSWD:ALL\n")
    rule.chmod(0o440)
    try:
        yield user
    finally:
        rule.unlink(missing_ok=True)
        delete_os_user(user)


@pytest.mark.parametrize("stop", ["cancel", "timeout"])
async def test_stopping_a_root_step_leaves_none_of_its_processes(
    client: httpx.AsyncClient, world: World, openssh_server: OpenSSHServer, sudo_user: str,
    stop: str,
) -> None:
    if shutil.which("sudo") is None:
        pytest.skip("sudo is not installed")
    world.servers.add(101, openssh_server.port)
    world.servers.access[101] = dataclasses.replace(
        world.servers.access[101], username=sudo_user
    )
    token = f"{uuid.uuid4().int % 10**6:06d}"
    pattern = f"sleep 98[789].{token}"
    await add_step(
        client, world,
        # A child in the background, one that leaves the process group, and the step.
        f"id -un; d=98; sleep ${{d}}7.{token} & setsid sleep ${{d}}8.{token} & echo started; "
        f"sleep ${{d}}9.{token}",
        run_as_user="root", timeout_seconds=4 if stop == "timeout" else 600,
    )
    action = await run_pipeline(client, world, wait=0)
    action_id = int(action["id"])
    for _ in range(300):
        if len(_alive(pattern)) >= 3:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"the step's processes never all started: {_alive(pattern)}")
    assert len(_alive(pattern, user="root")) >= 3, "the step should run as root"
    if stop == "cancel":
        response = await client.post(f"/actions/{action_id}/cancel", headers=world.headers)
        assert response.status_code in (200, 202, 204), response.text
    done = await wait_action(client, world, action_id)
    assert done["status"] == "failed"
    await asyncio.sleep(0.5)
    assert _alive(pattern) == []

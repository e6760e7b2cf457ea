"""The broker breaks: Redis killed and restarted, with and without its data, while actions
are queued and while new ones are started. Real `devopness-server worker` processes, a
real redis-server of the test's own on a free port, the test's database.

Every action either completes (once) or fails with a reason naming the broker, within
the bound the settings give (ACTION_BROKER_TIMEOUT_SECONDS plus one sweep interval)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import select, update

from app.actions import dispatch
from app.actions.models import Action, Pipeline
from app.core.settings import Settings
from tests.actions.conftest import World, add_step
from tests.actions.ssh_servers import ShellSSHServer
from tests.actions.test_workers import _access_file, _spawn, _step_output, _worker_env
from tests.conftest import free_port

BROKER_TIMEOUT = 4.0
SWEEP_INTERVAL = 0.5
STALE = 3.0


class RedisServer:
    """A redis-server of this test's own (never the shared one), killable at will."""

    def __init__(self, *, persistent: bool) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dvp-redis-"))
        self.persistent = persistent
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary is not None
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent else ["--appendonly", "no"]
        )
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.dir), "--save", "", *persistence, "--logfile", str(self.dir / "log")],
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no chance to save anything more."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None
        if not self.persistent:
            for path in self.dir.iterdir():
                if path.name != "log":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def redis_server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI")
        pytest.skip("redis-server is not installed")
    server = RedisServer(persistent=getattr(request, "param", False))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def workers(
    redis_server: RedisServer, settings: Settings, tmp_path: Path, world: World,
    shell_server: ShellSSHServer,
) -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    """Two `devopness-server worker` processes on the test's Redis; this process
    dispatches to them as the API does."""
    access = _access_file(tmp_path, world, shell_server)
    env = _worker_env(
        settings, access, REDIS_URL=redis_server.url,
        ACTION_REAPER_INTERVAL_SECONDS=str(SWEEP_INTERVAL),
        ACTION_REDISPATCH_AFTER_SECONDS="1",
        ACTION_BROKER_TIMEOUT_SECONDS=str(BROKER_TIMEOUT),
        ACTION_STALE_SECONDS=str(STALE),
    )
    procs = [
        _spawn([sys.executable, "-m", "launcher.cli", "worker", "--concurrency", "1",
                "--loglevel", "WARNING"], env)
        for _ in range(2)
    ]
    celery_app = dispatch.sender()  # the app this process sends actions with

    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = redis_server.url
    dispatch.set_dispatcher(dispatch.celery_dispatch)
    try:
        client = redis.Redis(port=redis_server.port)
        deadline = time.monotonic() + 60
        while len(client.keys("devopness:worker:*")) < 2:
            assert all(p.poll() is None for p in procs), "a worker exited"
            assert time.monotonic() < deadline, "the workers never became ready"
            await asyncio.sleep(0.2)
        yield procs
    finally:
        celery_app.conf.broker_url = previous
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _children(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir()
            if p.name.isdigit() and (p / "stat").exists() and _safe_parent(int(p.name)) == pid]


def _safe_parent(pid: int) -> int | None:
    try:
        return _parent(pid)
    except OSError:
        return None


async def _start(client: httpx.AsyncClient, world: World) -> int:
    response = await client.post(
        f"/pipelines/{world.pipeline_id}/actions", json={}, headers=world.headers
    )
    assert response.status_code == 201, response.text
    return int(response.headers["X-Devopness-Action-Id"])


async def _finished(
    client: httpx.AsyncClient, world: World, action_ids: list[int], within: float
) -> dict[int, dict[str, Any]]:
    deadline = time.monotonic() + within
    done: dict[int, dict[str, Any]] = {}
    while len(done) < len(action_ids):
        for action_id in action_ids:
            if action_id in done:
                continue
            body = (await client.get(f"/actions/{action_id}", headers=world.headers)).json()
            if body["status"] in ("completed", "failed"):
                done[action_id] = body
        if len(done) < len(action_ids):
            assert time.monotonic() < deadline, (
                f"still open after {within:g}s: {sorted(set(action_ids) - set(done))}"
            )
            await asyncio.sleep(0.2)
    return done


async def test_action_started_while_the_broker_is_down_runs_when_it_returns(
    client: httpx.AsyncClient, world: World, app: Any, redis_server: RedisServer,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    await add_step(client, world, "echo ran-once")
    redis_server.kill()
    started = [await _start(client, world) for _ in range(2)]
    body = (await client.get(f"/actions/{started[0]}", headers=world.headers)).json()
    assert body["status"] == "pending"
    await asyncio.sleep(1.5)
    redis_server.start()  # empty: the messages were never sent
    done = await _finished(client, world, started, within=BROKER_TIMEOUT + 20)
    for action_id, action in done.items():
        assert action["status"] == "completed", action
        assert (await _step_output(app, action_id)).count("ran-once") == 1


async def test_action_fails_naming_the_broker_when_it_stays_down(
    client: httpx.AsyncClient, world: World, redis_server: RedisServer,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    await add_step(client, world, "echo never")
    redis_server.kill()
    began = time.monotonic()
    action_id = await _start(client, world)
    done = await _finished(client, world, [action_id], within=BROKER_TIMEOUT + 15)
    action = done[action_id]
    assert action["status"] == "failed"
    reason = action["status_reason_human_readable"]
    assert "broker" in reason and f"127.0.0.1:{redis_server.port}" in reason, reason
    assert time.monotonic() - began >= BROKER_TIMEOUT - 1
    redis_server.start()


@pytest.mark.parametrize("redis_server", [False, True], ids=["without-data", "with-data"],
                         indirect=True)
async def test_broker_restart_loses_no_queued_action(
    client: httpx.AsyncClient, world: World, app: Any, redis_server: RedisServer,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    """Two workers, one action each at a time: most of the batch waits in the broker's
    queue when Redis dies; one more is started while it is down."""
    await add_step(client, world, "sleep 0.5; echo ran-once")
    queued = [await _start(client, world) for _ in range(5)]
    await asyncio.sleep(0.3)
    redis_server.kill()
    during = await _start(client, world)
    await asyncio.sleep(1.0)
    redis_server.start()
    after = await _start(client, world)
    action_ids = [*queued, during, after]
    done = await _finished(client, world, action_ids, within=BROKER_TIMEOUT + 40)
    for action_id, action in done.items():
        assert action["status"] == "completed", action
        assert (await _step_output(app, action_id)).count("ran-once") == 1, action_id


async def test_action_waiting_in_a_killed_worker_is_sent_again(
    client: httpx.AsyncClient, world: World, app: Any,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    """An action waiting for its pipeline's slot is held by a worker; that worker dies
    (its message dies unacknowledged with it) and the action still runs, once."""
    async with app.state.database.transaction() as session:
        await session.execute(
            update(Pipeline).where(Pipeline.id == world.pipeline_id)
            .values(max_parallel_actions=1)
        )
    await add_step(client, world, "sleep 3; echo ran-once")
    first = await _start(client, world)
    second = await _start(client, world)
    deadline = time.monotonic() + 30
    while True:
        async with app.state.database.transaction() as session:
            rows = {
                row.status: row.worker_id
                for row in await session.execute(
                    select(Action.status, Action.worker_id)
                    .where(Action.id.in_([first, second]))
                )
            }
        if set(rows) == {"in-progress", "waiting"}:
            break
        assert time.monotonic() < deadline, f"never waited: {rows}"
        await asyncio.sleep(0.1)
    running_in = rows["in-progress"]
    # The other worker holds the waiting one: kill it, pool process and all.
    assert running_in is not None
    busy = _parent(int(running_in.rsplit(":", 1)[1]))
    holder = next(p for p in workers if p.pid != busy)
    for pid in (*_children(holder.pid), holder.pid):
        os.kill(pid, signal.SIGKILL)
    done = await _finished(client, world, [first, second], within=STALE + 30)
    for action_id, action in done.items():
        assert action["status"] == "completed", action
        assert (await _step_output(app, action_id)).count("ran-once") == 1

"""Worker processes: one killed mid-step, and the Celery runner against a real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.access.auth import Principal, PrincipalKind
from app.actions import dispatch
from app.actions.models import ActionLogChunk, ActionStep
from app.actions.start import start_action
from app.core.settings import Settings
from tests.actions import fs
from tests.actions.conftest import APP_ID, World, add_step, wait_action
from tests.actions.ssh_servers import ShellSSHServer, kill_leftovers
from workers.engine.reaper import reap

ROOT = Path(__file__).resolve().parents[2]
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")


def _access_file(tmp_path: Path, world: World, shell_server: ShellSSHServer) -> Path:
    servers = {}
    for server_id in world.app_servers:
        access = world.servers.access[server_id]
        servers[str(server_id)] = {
            "server_id": server_id, "host": access.host, "port": access.port,
            "username": access.username, "private_key": access.private_key,
            "host_key": shell_server.public_host_key, "hostname": access.hostname,
            "os_version_code": access.os_version_code,
        }
    path = tmp_path / "access.json"
    path.write_text(json.dumps({"servers": servers, "application_servers": world.app_servers}))
    return path


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, cwd=ROOT)


def _worker_env(settings: Settings, access_file: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "ENGINE_PLUGINS": "tests.actions.plugin",
        "DVP_TEST_ACCESS_FILE": str(access_file),
        "ACTION_HEARTBEAT_SECONDS": "0.5",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


async def _create_action(app: Any, world: World, user_id: int) -> int:
    recorded: list[int] = []

    async def record(action_id: int) -> None:
        recorded.append(action_id)

    dispatch.set_dispatcher(record)
    try:
        async with app.state.database.transaction() as session:
            action = await start_action(
                session, resource_type="application", resource_id=APP_ID, operation="deploy",
                triggered_by=Principal(kind=PrincipalKind.SESSION, user_id=user_id),
                project_id=world.project.id, environment_id=world.environment_id,
            )
            action_id = action.id
    finally:
        dispatch.set_dispatcher(app.state.runner.submit)
    assert recorded == [action_id]
    return action_id


async def _step_output(app: Any, action_id: int) -> str:
    async with app.state.database.sessionmaker() as session:
        rows = await session.scalars(
            select(ActionLogChunk.data)
            .join(ActionStep, ActionStep.id == ActionLogChunk.action_step_id)
            .where(ActionStep.action_id == action_id)
            # Step by step: chunks are numbered within their step.
            .order_by(ActionStep.id, ActionLogChunk.seq)
        )
        return "".join(rows)


async def sigkill_once_started(
    app: Any, action_id: int, worker: subprocess.Popen[bytes], *, tries: int,
    printed: str = "started",
) -> None:
    """Kill the worker (SIGKILL, as the OOM killer or a lost machine would) once its step
    has `printed` that; the worker is gone when this returns, whatever happened."""
    try:
        for _ in range(tries):
            if printed in await _step_output(app, action_id):
                break
            assert worker.poll() is None, "worker exited early"
            await asyncio.sleep(0.05)
        else:
            pytest.fail(f"the step never printed {printed!r} in the worker; its steps' logs:\n"
                        f"{await _step_output(app, action_id)}")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()



async def test_killed_worker_leaves_a_failed_action_and_retry_completes(
    client: httpx.AsyncClient, world: World, shell_server: ShellSSHServer, app: Any,
    settings: Settings, tmp_path: Path,
) -> None:
    flag = f"/tmp/dvp-recovered-{uuid.uuid4().hex}"
    await add_step(
        client, world,
        f"if [ -f {flag} ]; then echo recovered; else echo started; sleep 60; fi",
    )
    user_id = world.project.user_id
    action_id = await _create_action(app, world, user_id)
    access = _access_file(tmp_path, world, shell_server)
    worker = _spawn(
        [sys.executable, "-m", "workers.engine", str(action_id)], _worker_env(settings, access)
    )
    await sigkill_once_started(app, action_id, worker, tries=300)
    running = await wait_action(client, world, action_id, wait=0)
    assert running["status"] == "in-progress"  # nobody told the database yet

    await asyncio.sleep(1.2)
    reaped = await reap(app.state.database, settings.model_copy(update={"action_stale_seconds": 1}))
    assert reaped == [action_id]
    failed = await wait_action(client, world, action_id, wait=0)
    assert failed["status"] == "failed"
    assert "stopped responding" in failed["status_reason_human_readable"]
    assert failed["targets"][0]["status"] == "failed"
    assert failed["targets"][0]["steps"][0]["status"] == "failed"

    fs.touch(flag)
    retry = await client.post(f"/actions/{action_id}/retry", headers=world.headers)
    assert retry.status_code == 201, retry.text
    done = await wait_action(client, world, retry.json()["id"])
    assert done["status"] == "completed"
    kill_leftovers()  # the orphaned `sleep 60` of the killed worker


@pytest.fixture
def redis_db() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI at {REDIS_TEST_URL}")
        pytest.skip(f"no Redis at {REDIS_TEST_URL}")
    client.flushdb()
    yield REDIS_TEST_URL
    client.flushdb()


@pytest.fixture
async def celery_worker(
    redis_db: str, settings: Settings, tmp_path: Path, world: World,
    shell_server: ShellSSHServer,
) -> AsyncIterator[subprocess.Popen[bytes]]:
    access = _access_file(tmp_path, world, shell_server)
    worker = _spawn(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
         "-Q", "actions", "--concurrency=1", "--pool=prefork", "--loglevel=WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        _worker_env(settings, access, REDIS_URL=redis_db),
    )
    celery_app = dispatch.sender()  # the app this process sends actions with

    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = redis_db
    try:
        yield worker
    finally:
        celery_app.conf.broker_url = previous
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()


async def test_celery_runner_executes_actions(
    client: httpx.AsyncClient, world: World, app: Any,
    celery_worker: subprocess.Popen[bytes],
) -> None:
    await add_step(client, world, "echo from-celery-worker; hostname >/dev/null")
    dispatch.set_dispatcher(dispatch.celery_dispatch)
    try:
        response = await client.post(
            f"/pipelines/{world.pipeline_id}/actions", json={}, headers=world.headers
        )
    finally:
        dispatch.set_dispatcher(app.state.runner.submit)
    assert response.status_code == 201
    action_id = int(response.headers["X-Devopness-Action-Id"])
    done = await wait_action(client, world, action_id, wait=60)
    assert done["status"] == "completed", done
    assert "from-celery-worker" in await _step_output(app, action_id)
    assert celery_worker.poll() is None


async def test_sigterm_lets_the_running_step_finish(
    client: httpx.AsyncClient, world: World, app: Any,
    celery_worker: subprocess.Popen[bytes],
) -> None:
    """A worker told to stop (SIGTERM, as on a deploy or scale-down) finishes the action it
    is running before it exits: nothing is left in progress without an owner."""
    await add_step(client, world, "sleep 2; echo survived-sigterm")
    dispatch.set_dispatcher(dispatch.celery_dispatch)
    try:
        response = await client.post(
            f"/pipelines/{world.pipeline_id}/actions", json={}, headers=world.headers
        )
    finally:
        dispatch.set_dispatcher(app.state.runner.submit)
    action_id = int(response.headers["X-Devopness-Action-Id"])
    deadline = time.monotonic() + 30
    while (await client.get(f"/actions/{action_id}", headers=world.headers)).json()[
        "status"
    ] != "in-progress":
        assert time.monotonic() < deadline, "the worker never started the action"
        await asyncio.sleep(0.1)
    celery_worker.send_signal(signal.SIGTERM)
    done = await wait_action(client, world, action_id, wait=60)
    assert done["status"] == "completed", done
    assert "survived-sigterm" in await _step_output(app, action_id)
    for _ in range(150):
        if celery_worker.poll() is not None:
            break
        await asyncio.sleep(0.1)
    assert celery_worker.poll() is not None, "the worker did not exit after its action"

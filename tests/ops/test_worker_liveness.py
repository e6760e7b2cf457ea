"""A real Celery worker announces itself; /readyz sees it come and go."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
import redis

from app.core.settings import Settings
from app.main import create_app
from app.ops.service import WORKER_HEARTBEAT_PREFIX
from tests.conftest import ROOT, free_port

REDIS_URL = "redis://127.0.0.1:6379/14"


async def _readyz(settings: Settings) -> dict[str, Any]:
    app = create_app(settings.model_copy(update={"redis_url": REDIS_URL}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        body: dict[str, Any] = (await c.get("/readyz")).json()
    await app.state.database.dispose()
    await app.state.redis.aclose()
    return body


async def test_worker_heartbeat(settings: Settings) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:  # pragma: no cover - CI always has Redis
        pytest.skip(f"Redis not reachable: {exc}")
    client.flushdb()
    env = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": "worker-test-secret-key",
    }
    metrics_port = free_port()
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    worker = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, not awaited
        [sys.executable, "-m", "launcher.cli", "worker", "--concurrency", "1",
         "--metrics-port", str(metrics_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(client.scan_iter(f"{WORKER_HEARTBEAT_PREFIX}*")):
            assert worker.poll() is None, "worker exited"
            assert time.monotonic() < deadline, "no heartbeat from the worker"
            await asyncio.sleep(0.2)
        body = await _readyz(settings)
        assert body["checks"]["worker"]["ok"] is True, body
        # The worker serves the engine's metrics of all its pool processes.
        async with httpx.AsyncClient() as http:
            metrics = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert metrics.status_code == 200
        assert "devopness_steps_running" in metrics.text

        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        assert not list(client.scan_iter(f"{WORKER_HEARTBEAT_PREFIX}*"))
        body = await _readyz(settings)
        assert body["status"] == "not ready" and body["checks"]["worker"]["ok"] is False
    finally:
        if worker.poll() is None:
            worker.kill()
        client.flushdb()
        client.close()

"""Live readers (`?wait=`, the SSE log stream) across a Redis restart: the signal bus is
only a wake-up, so a broken subscription must fall back to polling, never fail the
request or the stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from app.actions.bus import RedisBus, set_bus
from tests.actions.conftest import World, add_step, run_pipeline, wait_action
from tests.actions.test_faults_broker import RedisServer, redis_server  # noqa: F401


@pytest.fixture
async def redis_bus(redis_server: RedisServer) -> AsyncIterator[Redis]:  # noqa: F811
    redis = Redis.from_url(redis_server.url)
    set_bus(RedisBus(redis))  # the session app's bus is put back after each test
    yield redis
    await redis.aclose()


async def _stream(client: httpx.AsyncClient, world: World, action: dict[str, object]) -> str:
    targets = action["targets"]
    assert isinstance(targets, list)
    url = f"/actions/{action['id']}/targets/{targets[0]['id']}/steps/1/logs/stream"
    async with client.stream("GET", url, headers=world.headers, timeout=30) as response:
        assert response.status_code == 200
        return "".join([chunk async for chunk in response.aiter_text()])


async def test_wait_and_log_stream_opened_after_redis_came_back(
    client: httpx.AsyncClient, world: World, redis_server: RedisServer,  # noqa: F811
    redis_bus: Redis,
) -> None:
    await add_step(client, world, "echo first; sleep 1.5; echo second")
    warm = await run_pipeline(client, world)
    assert warm["status"] == "completed"
    assert "second" in await _stream(client, world, warm)  # pooled connections in use

    redis_server.kill()
    redis_server.start()

    action = await run_pipeline(client, world, wait=0)
    done = await wait_action(client, world, int(str(action["id"])), wait=20)
    assert done["status"] == "completed"
    body = await _stream(client, world, done)
    assert "first" in body and "second" in body and "event: end" in body

    redis_server.kill()  # and while it is down
    action = await run_pipeline(client, world, wait=0)
    done = await wait_action(client, world, int(str(action["id"])), wait=20)
    assert done["status"] == "completed"
    assert "event: end" in await _stream(client, world, done)

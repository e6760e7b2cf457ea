"""Wake-up signals for live readers (SSE, `?wait=`): "something changed on this topic".

Signals carry no data: readers re-read the database, the one source of truth, so a lost
or duplicated signal can never lose or duplicate log lines. In-memory fan-out embedded,
Redis pub/sub when REDIS_URL is set (workers and API processes on other machines).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from redis.asyncio import Redis

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "devopness:signal:"


def step_topic(step_id: int) -> str:
    return f"step:{step_id}"


def action_topic(action_id: int) -> str:
    return f"action:{action_id}"


class SignalBus(Protocol):
    async def publish(self, topic: str) -> None: ...

    async def wait(self, topic: str, seconds: float) -> None:
        """Return when `topic` is signalled or after `seconds`, whichever is first."""
        ...


class MemoryBus:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    async def publish(self, topic: str) -> None:
        event = self._events.pop(topic, None)
        if event is not None:
            event.set()

    async def wait(self, topic: str, seconds: float) -> None:
        event = self._events.setdefault(topic, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)


class RedisBus:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def publish(self, topic: str) -> None:
        try:
            await self.redis.publish(CHANNEL_PREFIX + topic, b"1")
        except Exception:  # a missed signal only delays a reader until its next poll
            logger.warning("could not publish signal %s", topic, exc_info=True)

    async def wait(self, topic: str, seconds: float) -> None:
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(CHANNEL_PREFIX + topic)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            while (remaining := deadline - loop.time()) > 0:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=remaining
                )
                if message is not None:
                    return
        except Exception:
            logger.warning("signal subscription failed; falling back to polling", exc_info=True)
            await asyncio.sleep(min(seconds, 1.0))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


_bus: SignalBus = MemoryBus()


def set_bus(bus: SignalBus) -> None:
    global _bus
    _bus = bus


def get_bus() -> SignalBus:
    return _bus

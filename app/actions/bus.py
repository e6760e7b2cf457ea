"""Wake-up signals for live readers (SSE, `?wait=`): "something changed on this topic".

Signals carry no data: readers re-read the database, the one source of truth, so a lost
or duplicated signal can never lose or duplicate log lines. In-memory fan-out embedded,
Redis pub/sub when REDIS_URL is set (workers and API processes on other machines).

Readers subscribe *before* reading the database, then wait: a change committed between
the read and the wait still wakes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any, Protocol

from redis.asyncio import Redis

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "devopness:signal:"
SUBSCRIBE_TIMEOUT = 2.0


def step_topic(step_id: int) -> str:
    return f"step:{step_id}"


def action_topic(action_id: int) -> str:
    """Signalled when the action's own status changes (claimed, finished, reaped): not on
    every target or step change, which nobody waits for and which would wake `?wait=`
    readers hundreds of times during a large fan-out."""
    return f"action:{action_id}"


class Subscription(Protocol):
    async def wait(self, seconds: float) -> None:
        """Return once the topic was signalled since the last wait, or after `seconds`."""
        ...


class SignalBus(Protocol):
    async def publish(self, topic: str) -> None: ...
    async def publish_many(self, topics: Collection[str]) -> None:
        """`publish` each topic (in one round trip where the bus can)."""
        ...

    def subscribe(self, topic: str) -> contextlib.AbstractAsyncContextManager[Subscription]: ...


class _MemorySubscription:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)
        self.event.clear()


class MemoryBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[_MemorySubscription]] = {}

    async def publish(self, topic: str) -> None:
        for subscription in self._subscribers.get(topic, ()):
            subscription.event.set()

    async def publish_many(self, topics: Collection[str]) -> None:
        for topic in topics:
            await self.publish(topic)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        subscription = _MemorySubscription()
        self._subscribers.setdefault(topic, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[topic]


class _RedisSubscription:
    """A pub/sub subscription that survives Redis going away: while it cannot subscribe,
    `wait` sleeps (readers poll the database, as they do between signals anyway) and it
    subscribes again on a later wait."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self.redis = redis
        self.channel = channel
        self.pubsub: Any = None

    async def connect(self) -> bool:
        pubsub = self.redis.pubsub()
        try:
            # Bounded: an unreachable (not refusing) Redis must not hold a reader either.
            await asyncio.wait_for(pubsub.subscribe(self.channel), SUBSCRIBE_TIMEOUT)
        except Exception as exc:  # every reader retries each second: no traceback
            logger.warning("could not subscribe to %s (%s); polling instead", self.channel, exc)
            await _close(pubsub)
            return False
        self.pubsub = pubsub
        return True

    async def close(self) -> None:
        if self.pubsub is not None:
            await _close(self.pubsub)
            self.pubsub = None

    async def wait(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        if self.pubsub is None and not await self.connect():
            # Subscribed only now: a change made before it would not wake us, so return
            # for a re-read of the database instead of waiting on the fresh subscription.
            await asyncio.sleep(seconds)
            return
        try:
            while (remaining := deadline - loop.time()) > 0:
                message = await self.pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=remaining
                )
                if message is not None:
                    # Drain what queued up meanwhile: one wake-up covers them all.
                    while await self.pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=0
                    ):
                        pass
                    return
        except Exception:
            logger.warning("signal subscription failed; falling back to polling", exc_info=True)
            await self.close()
            await asyncio.sleep(max(0.0, deadline - loop.time()))


async def _close(pubsub: Any) -> None:
    with contextlib.suppress(Exception):
        await pubsub.aclose()


class RedisBus:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def publish(self, topic: str) -> None:
        try:
            await self.redis.publish(CHANNEL_PREFIX + topic, b"1")
        except Exception:  # a missed signal only delays a reader until its next poll
            logger.warning("could not publish signal %s", topic, exc_info=True)

    async def publish_many(self, topics: Collection[str]) -> None:
        # The engine signals every step that logged within a tick: one pipeline, not a
        # round trip per step.
        if not topics:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for topic in topics:
                    pipe.publish(CHANNEL_PREFIX + topic, b"1")
                await pipe.execute()
        except Exception:  # as in `publish`: readers poll meanwhile
            logger.warning("could not publish %d signals", len(topics), exc_info=True)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        # Like publish: Redis being away makes readers poll, it never fails them.
        subscription = _RedisSubscription(self.redis, CHANNEL_PREFIX + topic)
        await subscription.connect()
        try:
            yield subscription
        finally:
            await subscription.close()


_bus: SignalBus = MemoryBus()
# Set once this process is shutting down: live readers end (SSE closes after its last
# event id, `?wait=` answers with the current state) so clients reconnect elsewhere.
_draining = False


def start_draining() -> None:
    global _draining
    _draining = True


def draining() -> bool:
    return _draining


def set_bus(bus: SignalBus) -> None:
    global _bus
    _bus = bus


def get_bus() -> SignalBus:
    return _bus

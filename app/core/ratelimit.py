"""Fixed-window counters: in memory for the embedded default, in Redis when configured."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from redis.asyncio import Redis


class Counter(Protocol):
    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one event for `key`; return (events in the window, seconds until reset)."""

    async def peek(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Events counted so far in the current window, and seconds until it resets."""

    async def reset(self, key: str) -> None: ...


class MemoryCounter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = asyncio.Lock()

    def _current(self, key: str, window_seconds: int, now: float) -> tuple[float, int]:
        started, count = self._windows.get(key, (now, 0))
        if now - started >= window_seconds:
            return now, 0
        return started, count

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        async with self._lock:
            now = time.monotonic()
            started, count = self._current(key, window_seconds, now)
            count += 1
            self._windows[key] = (started, count)
            if len(self._windows) > 100_000:
                self._evict(now, window_seconds)
            return count, max(1, int(started + window_seconds - now + 0.999))

    async def peek(self, key: str, window_seconds: int) -> tuple[int, int]:
        now = time.monotonic()
        started, count = self._current(key, window_seconds, now)
        return count, max(1, int(started + window_seconds - now + 0.999))

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def _evict(self, now: float, window_seconds: int) -> None:
        for key, (started, _) in list(self._windows.items()):
            if now - started >= window_seconds:
                del self._windows[key]


class RedisCounter:
    PREFIX = "devopness:rl:"

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        name = self.PREFIX + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds, nx=True)
            pipe.ttl(name)
            count, _, ttl = await pipe.execute()
        return int(count), max(1, int(ttl))

    async def peek(self, key: str, window_seconds: int) -> tuple[int, int]:
        name = self.PREFIX + key
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(name)
            pipe.ttl(name)
            count, ttl = await pipe.execute()
        return int(count or 0), max(1, int(ttl) if ttl and ttl > 0 else window_seconds)

    async def reset(self, key: str) -> None:
        await self._redis.delete(self.PREFIX + key)

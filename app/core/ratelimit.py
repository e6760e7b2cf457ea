"""Fixed-window counters: in memory for the embedded default, in Redis when configured."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from typing import Protocol

from redis.asyncio import Redis
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import error_response

logger = logging.getLogger(__name__)


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


# Sign-up, login, password and token-minting endpoints: a tighter budget per client IP.
_AUTH_PATHS = re.compile(
    r"^/users(?:/login|/refresh-token|/password/.*|/account/.*|/personal-access-tokens"
    r"(?:/[^/]+/rotate)?)?$|^/projects/[0-9]+/tokens(?:/[^/]+/rotate)?$"
)


class RateLimit:
    """Fixed one-minute windows per bearer token, per IP without one, and for auth endpoints.

    Counters live in Redis when configured (shared by every API process), in memory
    otherwise. A counter backend failure lets the request through: rate limiting must not
    turn a Redis hiccup into an outage.
    """

    WINDOW = 60

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        settings = state.settings
        if not settings.rate_limit_enabled:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = authorization.partition(" ")
        checks: list[tuple[str, int]] = []
        if scheme.lower() == "bearer" and token.strip():
            digest = hashlib.sha256(token.strip().encode()).hexdigest()[:32]
            checks.append((f"tok:{digest}", settings.rate_limit_per_minute))
        else:
            checks.append((f"ip:{ip}", settings.rate_limit_ip_per_minute))
        if scope["method"] in {"POST", "PUT"} and _AUTH_PATHS.match(scope["path"]):
            checks.append((f"auth:{ip}", settings.rate_limit_auth_per_minute))

        counter: Counter = state.counter
        remaining = None
        for key, limit in checks:
            try:
                count, reset = await counter.hit(key, self.WINDOW)
            except Exception:
                logger.warning("rate limit counter unavailable; request allowed", exc_info=True)
                continue
            if count > limit:
                response = error_response(
                    429,
                    "Too many requests. Slow down and retry after the time in Retry-After.",
                    headers={"Retry-After": str(reset), "X-RateLimit-Limit": str(limit)},
                )
                await response(scope, receive, send)
                return
            left = limit - count
            remaining = left if remaining is None else min(remaining, left)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and remaining is not None:
                MutableHeaders(scope=message)["X-RateLimit-Remaining"] = str(remaining)
            await send(message)

        await self.app(scope, receive, send_with_headers)

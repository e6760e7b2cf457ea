"""Caches of what decides access, kept only while the database says nothing changed.

Resolving a bearer token and the caller's permissions costs several statements on every
request. Their inputs change rarely, so an API process may keep what it read, as long as
it learns of every change at once, from every writer (another API process, a worker, the
CLI, hand-written SQL). On PostgreSQL, triggers on the tables that decide access send a
notification on commit (migration 0011); `ChangeFeed` listens on its own connection and
moves its `generation` on each one. A cached value carries the generation it was read
under and is served only while that is still the current one, so a read that raced a
change is never kept. While the listening connection is down (or on SQLite, which has no
such channel) nothing is served from these caches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Hashable
from typing import Any

from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

ACCESS_CHANNEL = "devopness_access"
# How often an idle listener proves its connection still works: a dead peer that sent no
# FIN (a restarted host) would otherwise leave the feed "live" and the caches trusted.
PROBE_SECONDS = 5.0


class ChangeFeed:
    """This process's view of the access notifications (one per `Database`)."""

    def __init__(self, database_url: str | None, channel: str = ACCESS_CHANNEL) -> None:
        self._conninfo: str | None = None
        if database_url is not None:
            url = make_url(database_url)
            if url.get_backend_name() == "postgresql":
                self._conninfo = url.set(drivername="postgresql").render_as_string(
                    hide_password=False)
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self.generation = 0
        self.live = False
        # Set once each time the listener is (re)connected: tests and start() wait on it.
        self._connected = asyncio.Event()

    @property
    def available(self) -> bool:
        return self._conninfo is not None

    def bump(self) -> None:
        """Invalidate everything cached so far (a change was seen or may have been missed)."""
        self.generation += 1

    async def start(self, wait: float = 5.0) -> None:
        """Listen in the background; waits a little for the first connection, so the first
        requests already profit, but never fails the start (the caches stay off)."""
        if self._conninfo is None or self._task is not None:
            return
        self._task = asyncio.create_task(self._listen(), name="access-change-feed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), wait)

    async def stop(self) -> None:
        task, self._task = self._task, None
        self.live = False
        self.bump()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self) -> None:
        import psycopg

        assert self._conninfo is not None
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, connect_timeout=10,
                    application_name="devopness-access-feed",
                ) as conn:
                    await conn.execute(f"LISTEN {self._channel}")
                    # Anything cached before this point may have missed a notice.
                    self.bump()
                    self.live = True
                    self._connected.set()
                    delay = 0.5
                    while True:
                        async for _notice in conn.notifies(timeout=PROBE_SECONDS):
                            self.bump()
                        await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any loss turns the caches off
                logger.warning("access change feed lost (%s); caches off until it is back",
                               exc)
            finally:
                self.live = False
                self.bump()
                self._connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


class FeedCache:
    """Values keyed by what was asked, served while the feed's generation has not moved.

    `begin()` before reading from the database, `put(..., begin's generation)` after: a
    value read while a change committed is dropped instead of kept.
    """

    _MISSING = object()

    def __init__(self, feed: ChangeFeed, ttl_seconds: float, max_entries: int = 50_000) -> None:
        self._feed = feed
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[Hashable, tuple[int, float, Any]] = {}

    @property
    def ttl(self) -> float:
        return self._ttl if self._feed.live else 0.0

    def begin(self) -> int | None:
        """The generation a read starts under, or None when nothing may be cached now."""
        if not self._feed.live or self._ttl <= 0:
            return None
        return self._feed.generation

    def get(self, key: Hashable) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        generation, until, value = entry
        if (not self._feed.live or generation != self._feed.generation
                or until < time.monotonic()):
            self._entries.pop(key, None)
            return False, None
        return True, value

    def put(self, key: Hashable, value: Any, generation: int | None) -> None:
        if generation is None or generation != self._feed.generation or not self._feed.live:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (generation, time.monotonic() + self._ttl, value)

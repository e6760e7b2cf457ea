"""Caches of what decides access, trusted only under the database's access generation.

Resolving a bearer token and the caller's permissions costs several statements on every
request. Their inputs change rarely, so an API process may keep what it read, as long as
every change, from every writer (another API process, a worker, the CLI, hand-written SQL),
is seen by the very next request. Triggers on the tables that decide access (migration
0015) move `access_generation.value` inside the writing transaction. A request reads that
one row before it uses anything cached (`AccessCache.generation`), and a cached value is
served only under the generation it was read under: a change committed before the request
started is seen by it, whichever process serves it.

A value is read after the generation it is stored under, so it is never older than that
generation; a value read while a change committed is at worst newer, and the next
request, reading the moved generation, drops it.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

from sqlalchemy import Select, column, event, select, table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

GENERATION = "access_generation"
# A SELECT construct, not text(): the session counts a textual statement as a write.
_READ: Select[tuple[Any]] = select(column("value")).select_from(table("access_generation")).where(
    column("name") == "access")


def _forget_generation(session: Session, *_args: Any) -> None:
    # The next transaction may see later changes: it reads the generation again.
    session.info.pop(GENERATION, None)


event.listen(Session, "after_commit", _forget_generation)
event.listen(Session, "after_rollback", _forget_generation)


class AccessCache:
    """Values keyed by what was asked, each kept with the access generation it was read under.

    Per request: `generation(session)` once (one indexed read, kept for the rest of the
    session's transaction), then `get`/`put` under it. None (caching off, or the row
    missing) turns every lookup into a miss and every store into nothing.
    """

    def __init__(self, ttl_seconds: float, max_entries: int = 50_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[Hashable, tuple[int, float, Any]] = {}

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    async def generation(self, session: AsyncSession) -> int | None:
        if self._ttl <= 0:
            return None
        info = session.info
        if GENERATION in info:
            known: int | None = info[GENERATION]
            return known
        value = await session.scalar(_READ)
        current = None if value is None else int(value)
        info[GENERATION] = current
        return current

    def get(self, key: Hashable, generation: int | None) -> tuple[bool, Any]:
        if generation is None:
            return False, None
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        stored, until, value = entry
        if stored != generation or until < time.monotonic():
            if stored < generation or until < time.monotonic():
                self._entries.pop(key, None)
            return False, None
        return True, value

    def put(self, key: Hashable, value: Any, generation: int | None) -> None:
        if generation is None:
            return
        current = self._entries.get(key)
        if current is not None and current[0] > generation:
            return  # a request that started later already stored a newer reading
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (generation, time.monotonic() + self._ttl, value)

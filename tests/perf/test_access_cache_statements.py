"""On PostgreSQL, with the access feed listening, a repeated read skips the statements that
resolve the caller's token and permissions, and runs them again as soon as another writer
changes access (proof that the cache is used, and dropped when it must be)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import PrincipalCache
from app.core.changes import FeedCache
from app.core.settings import Settings
from tests.perf.world import seed


async def _settled(app: Any, generation: int) -> None:
    feed = app.state.database.changes
    for _ in range(100):
        if feed.generation != generation:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the change was never announced to this process")


async def test_a_cached_read_skips_access_statements_until_access_changes(
    app: Any, db: AsyncSession, settings: Settings, count_queries: Any,
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the access feed is PostgreSQL's LISTEN/NOTIFY (set TEST_DATABASE_URL); "
                    "the PostgreSQL pass runs it")
    world = await seed(db, settings)
    await db.commit()
    feed = app.state.database.changes
    default_cache = app.state.database.cache
    await feed.start()
    assert feed.live, "the access feed did not connect"
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    try:
        # The cache is opt-in (ACCESS_CACHE_SECONDS); a fresh token cache: the seeding
        # requests above ran before the feed was live.
        app.state.database.cache = FeedCache(feed, 300.0)
        app.state.principal_cache = PrincipalCache(app.state.database.cache)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                     headers=world.headers) as client:
            path = f"/projects/{world.project.id}"

            async def count() -> int:
                with count_queries() as q:
                    assert (await client.get(path)).status_code == 200
                return int(q.count)

            # The first read also records when the token was last used (a write: that
            # request keeps nothing it read about permissions); the next one caches them.
            first = await count()
            await count()
            warm = await count()
            assert await count() == warm
            assert warm < first - 1, (first, warm)
            # Another writer (plain SQL) changes a role: the next read resolves again.
            generation = feed.generation
            await db.execute(text("UPDATE roles SET description = 'x', permissions = "
                                  "permissions WHERE id = :id"), {"id": world.role.id})
            await db.commit()
            await _settled(app, generation)
            again = await count()
            assert again > warm, (first, warm, again)
            assert await count() == warm
    finally:
        app.state.database.cache = default_cache
        app.state.principal_cache = PrincipalCache(default_cache)
        await feed.stop()

"""A repeated read skips the statements that resolve the caller's token and permissions (the
access cache, on by default), and runs them again on the very next request after another
writer changes access: proof that the cache is used, and dropped when it must be. Runs on
both databases: the access generation is moved by triggers on each."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from tests.perf.world import seed


async def test_a_cached_read_skips_access_statements_until_access_changes(
    app: Any, db: AsyncSession, settings: Settings, count_queries: Any,
) -> None:
    assert settings.access_cache_seconds > 0, "the access cache is on by default"
    world = await seed(db, settings)
    await db.commit()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
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
        # Another writer (plain SQL, outside the API) changes a role: the very next read
        # resolves again, with no waiting for any notice.
        await db.execute(text("UPDATE roles SET description = 'x', permissions = "
                              "permissions WHERE id = :id"), {"id": world.role.id})
        await db.commit()
        again = await count()
        assert again > warm, (first, warm, again)
        assert await count() == warm
        # A change to what does not decide access (a role's description alone) keeps it.
        await db.execute(text("UPDATE roles SET description = 'y' WHERE id = :id"),
                         {"id": world.role.id})
        await db.commit()
        assert await count() == warm

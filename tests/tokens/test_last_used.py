"""A token's last use, as its owner sees it in the token list, while the token works hard:
an agent or a script sends many requests at once with one token. Writing `last_used_at`
must cost those requests nothing they feel: it is written once per process and minute.
(Before, every request in flight when the minute came round wrote it, each waiting for the
row lock of the one before until that request ended: under 32 connections, one stall of
up to 0.7 s a minute in the API benchmark.)"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import auth, create_pat, create_user


async def test_many_requests_at_once_with_a_fresh_token_write_its_last_use_once(
    client: httpx.AsyncClient, db: AsyncSession, count_queries: Any,
) -> None:
    user = await create_user(db)
    stored, token = await create_pat(db, user)
    await db.commit()
    with count_queries() as q:
        answers = await asyncio.gather(
            *(client.get("/users/me", headers=auth(token)) for _ in range(16)))
    assert [a.status_code for a in answers] == [200] * 16
    writes = [s for s in q.statements if s.lstrip().upper().startswith("UPDATE API_TOKENS")]
    assert len(writes) == 1, writes
    await db.refresh(stored)
    assert stored.last_used_at is not None
    listed = await client.get("/users/personal-access-tokens", headers=auth(token))
    assert {t["id"]: t["last_used_at"] for t in listed.json()}[stored.id] is not None

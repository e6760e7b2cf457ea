"""What the pool hands out on PostgreSQL: a connection it pinged is as clean as any other.

The pool pings a connection that sat idle for a while (app/core/database.py). The ping is a
statement, and the driver opens a transaction for it: a connection handed out inside that
transaction would run the request in a transaction begun before it.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import select, update

from app.core import database
from app.users.models import User
from tests.factories import create_user

IDLE = psycopg.pq.TransactionStatus.IDLE


async def test_a_connection_pinged_on_checkout_is_handed_out_outside_a_transaction(
    app: Any, postgresql: str, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Connections idle for a while are pinged before use; every one is, here.
    monkeypatch.setattr(database, "PING_IDLE_SECONDS", 0.0)
    user = await create_user(db)
    for _ in range(3):
        async with app.state.database.transaction() as session:
            connection = await session.connection()
            raw = await connection.get_raw_connection()
            assert raw.driver_connection.info.transaction_status == IDLE
            assert await session.scalar(select(User.id).where(User.id == user.id)) == user.id
            await session.execute(update(User).where(User.id == user.id).values(name="pinged"))
    with psycopg.connect(postgresql) as conn:
        assert conn.execute("SELECT name FROM users WHERE id = %s",
                            (user.id,)).fetchone() == ("pinged",)

"""A GET's session on PostgreSQL: reads outside a transaction, writes inside one.

A read skips BEGIN and COMMIT (two round trips of the handful a read costs). What such a
session writes must still be all or nothing, and a locking read must still hold its lock
until the session ends.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from app.core import database
from app.users.models import User
from tests.factories import create_user

IDLE = psycopg.pq.TransactionStatus.IDLE
INTRANS = psycopg.pq.TransactionStatus.INTRANS


async def _server_status(session: Any) -> psycopg.pq.TransactionStatus:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    status: psycopg.pq.TransactionStatus = raw.driver_connection.info.transaction_status
    return status


async def test_reads_open_no_transaction(app: Any, postgresql: str, db: Any) -> None:
    user = await create_user(db)
    async with app.state.database.transaction(reads=True) as session:
        assert (await session.get(User, user.id)) is not None
        await session.scalar(select(User.email).where(User.id == user.id))
        assert await _server_status(session) == IDLE
    # A write request's session is in a transaction from its first statement, as before.
    async with app.state.database.transaction() as session:
        await session.scalar(select(User.email).where(User.id == user.id))
        assert await _server_status(session) == INTRANS


async def test_what_a_read_session_writes_is_all_or_nothing(
    app: Any, postgresql: str, db: Any
) -> None:
    first = await create_user(db, name="first")
    second = await create_user(db, name="second")
    with pytest.raises(IntegrityError):
        async with app.state.database.transaction(reads=True) as session:
            await session.scalar(select(User.email).where(User.id == first.id))
            await session.execute(update(User).where(User.id == first.id).values(name="changed"))
            assert await _server_status(session) == INTRANS
            # Fails: the e-mail is taken. The first update must go with it.
            await session.execute(
                update(User).where(User.id == second.id).values(email=first.email))
    with psycopg.connect(postgresql) as conn:
        assert conn.execute("SELECT name FROM users WHERE id = %s",
                            (first.id,)).fetchone() == ("first",)

    async with app.state.database.transaction(reads=True) as session:
        await session.execute(update(User).where(User.id == first.id).values(name="kept"))
        user = await session.get(User, second.id)
        assert user is not None
        user.name = "flushed"
    with psycopg.connect(postgresql) as conn:
        names = dict(conn.execute("SELECT id, name FROM users WHERE id IN (%s, %s)",
                                  (first.id, second.id)).fetchall())
    assert names == {first.id: "kept", second.id: "flushed"}


async def test_a_locking_read_holds_its_lock_until_the_session_ends(
    app: Any, postgresql: str, db: Any
) -> None:
    user = await create_user(db)
    async with app.state.database.transaction(reads=True) as session:
        await session.scalar(select(User.id).where(User.id == user.id).with_for_update())
        with psycopg.connect(postgresql) as other, pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("SELECT id FROM users WHERE id = %s FOR UPDATE NOWAIT", (user.id,))
        # Text that is not a plain SELECT counts as a write too (already in the transaction).
        await session.execute(text("SELECT 1"))
    with psycopg.connect(postgresql) as other:
        other.execute("SELECT id FROM users WHERE id = %s FOR UPDATE NOWAIT", (user.id,))


async def test_a_connection_pinged_on_checkout_is_handed_out_outside_a_transaction(
    app: Any, postgresql: str, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Connections idle for a while are pinged before use; every one is, here.
    monkeypatch.setattr(database, "PING_IDLE_SECONDS", 0.0)
    user = await create_user(db)
    for _ in range(3):
        async with app.state.database.transaction(reads=True) as session:
            assert await session.scalar(select(User.id).where(User.id == user.id)) == user.id
            assert await _server_status(session) == IDLE
        async with app.state.database.transaction() as session:
            await session.execute(update(User).where(User.id == user.id).values(name="pinged"))

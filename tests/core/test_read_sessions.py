"""A GET's session on PostgreSQL: reads outside a transaction, writes inside one.

Under READ COMMITTED each statement sees its own snapshot, so a GET's reads run in the
driver's autocommit mode without BEGIN and COMMIT round trips (app/core/database.py). What
must still hold: whatever such a session writes is one transaction (all or nothing), a
locking read takes its locks inside a transaction, and the connection goes back to the pool
as every other session expects it (transactions on).
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text, update

from app.core.database import Database
from app.core.settings import Settings
from app.users.models import User
from tests.conftest import terminate_backends
from tests.factories import PASSWORD, auth, create_user, user_with_token

IDLE = psycopg.pq.TransactionStatus.IDLE
INTRANS = psycopg.pq.TransactionStatus.INTRANS


async def _status(session: Any) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection.info.transaction_status


def _name(postgresql: str, user_id: int) -> str:
    with psycopg.connect(postgresql) as conn:
        row = conn.execute("SELECT name FROM users WHERE id = %s", (user_id,)).fetchone()
    assert row is not None
    return str(row[0])


async def test_reads_open_no_transaction_and_the_first_write_opens_one(
    app: Any, postgresql: str, db: Any
) -> None:
    user = await create_user(db, name="before")
    await db.commit()
    async with app.state.database.transaction(reads_first=True) as session:
        assert await session.scalar(select(User.name).where(User.id == user.id)) == "before"
        assert await _status(session) == IDLE
        await session.execute(update(User).where(User.id == user.id).values(name="during"))
        assert await _status(session) == INTRANS
        # Not visible outside until the session commits.
        assert _name(postgresql, user.id) == "before"
    assert _name(postgresql, user.id) == "during"


async def test_what_a_read_first_session_writes_is_rolled_back_whole(
    app: Any, postgresql: str, db: Any
) -> None:
    first = await create_user(db, name="first")
    second = await create_user(db, name="second")
    await db.commit()
    with pytest.raises(RuntimeError):
        async with app.state.database.transaction(reads_first=True) as session:
            await session.scalar(select(User.id).where(User.id == first.id))
            await session.execute(update(User).where(User.id == first.id).values(name="x"))
            user = await session.get(User, second.id)
            assert user is not None
            user.name = "y"
            await session.flush()
            raise RuntimeError("the request failed after writing")
    assert (_name(postgresql, first.id), _name(postgresql, second.id)) == ("first", "second")


async def test_locking_reads_and_raw_sql_run_inside_a_transaction(
    app: Any, postgresql: str, db: Any
) -> None:
    user = await create_user(db)
    await db.commit()
    async with app.state.database.transaction(reads_first=True) as session:
        await session.scalar(select(User.id).where(User.id == user.id).with_for_update())
        assert await _status(session) == INTRANS
    async with app.state.database.transaction(reads_first=True) as session:
        await session.execute(text("SELECT 1"))
        assert await _status(session) == INTRANS


async def test_the_pooled_connection_returns_to_transactions_for_the_next_session(
    settings: Settings, postgresql: str
) -> None:
    # One connection: the next session necessarily reuses the one the GET used.
    database = Database(settings.model_copy(update={"database_pool_size": 1}))
    try:
        for _ in range(2):
            async with database.transaction(reads_first=True) as session:
                await session.execute(select(User.id).limit(1))
                assert await _status(session) == IDLE
            async with database.transaction() as session:
                await session.execute(select(User.id).limit(1))
                assert await _status(session) == INTRANS
    finally:
        await database.dispose()


async def test_a_get_that_writes_commits_what_it_wrote(
    client: Any, postgresql: str, db: Any
) -> None:
    """The one GET that changes state (the deprecated logout) ends its session for good."""
    user, _ = await user_with_token(db)
    await db.commit()
    login = await client.post(
        "/users/login", json={"email": user.email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    assert (await client.get("/users/me", headers=auth(token))).status_code == 200
    assert (await client.get("/users/logout", headers=auth(token))).status_code == 204
    assert (await client.get("/users/me", headers=auth(token))).status_code == 401


async def test_a_connection_asked_for_autocommit_on_purpose_keeps_it(
    app: Any, postgresql: str
) -> None:
    """Only GET sessions get a BEGIN before writing: maintenance run in AUTOCOMMIT on
    purpose (statements PostgreSQL refuses inside a transaction) is left as asked."""
    async with app.state.database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM access_generation"))
        raw = await autocommit.get_raw_connection()
        assert raw.driver_connection.info.transaction_status == IDLE


async def test_a_backend_killed_between_a_gets_reads_leaves_the_pool_serving(
    settings: Settings, postgresql: str
) -> None:
    """The GET's connection dies while in autocommit (its backend terminated between two
    reads, as an administrator or a failover would): the read fails, and the pool's next
    sessions (the same single slot) work and are back in transactions; so do they after a
    connection killed once its GET had read everything it needed."""
    database = Database(settings.model_copy(update={"database_pool_size": 1}))
    try:
        with pytest.raises(Exception):  # noqa: B017 - the driver's error, whichever it is
            async with database.transaction(reads_first=True) as session:
                await session.execute(select(User.id).limit(1))
                connection = await session.connection()
                raw = await connection.get_raw_connection()
                terminate_backends(postgresql, [raw.driver_connection.info.backend_pid])
                await session.execute(select(User.id).limit(1))
        async with database.transaction(reads_first=True) as session:
            await session.execute(select(User.id).limit(1))
            assert await _status(session) == IDLE
            # Killed after its last read: it goes back to the pool dead, unnoticed.
            raw = await (await session.connection()).get_raw_connection()
            terminate_backends(postgresql, [raw.driver_connection.info.backend_pid])
        async with database.transaction() as session:
            await session.execute(select(User.id).limit(1))
            assert await _status(session) == INTRANS
    finally:
        await database.dispose()


async def _backend_of_a_read(database: Database, reads_first: bool) -> int:
    async with database.transaction(reads_first=reads_first) as session:
        await session.execute(select(User.id).limit(1))
        raw = await (await session.connection()).get_raw_connection()
        return int(raw.driver_connection.info.backend_pid)


@pytest.mark.parametrize("reads_first", [True, False], ids=["get", "transaction"])
async def test_sessions_checked_out_as_their_backends_are_going_are_answered(
    settings: Settings, postgresql: str, db: Any, reads_first: bool
) -> None:
    """A failover's first instant: the pool's backends are signalled, and sessions check out
    their connections before the backends have exited, when nothing on the socket shows
    it yet. Their first statements run anyway (on a new connection), and nothing loaded
    or written is lost: each session then reads and writes as usual."""
    user_id = (await create_user(db)).id
    await db.commit()
    database = Database(settings.model_copy(update={"database_pool_size": 8}))
    failures: list[BaseException] = []
    try:
        with psycopg.connect(postgresql, autocommit=True) as admin:
            for _ in range(10):
                pids = await asyncio.gather(
                    *(_backend_of_a_read(database, reads_first) for _ in range(16)))
                # Signalled, not waited for: the next sessions race the backends' exit.
                admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) pid",
                              (sorted(set(pids)),))
                answers = await asyncio.gather(
                    *(_read_then_write(database, reads_first, user_id) for _ in range(16)),
                    return_exceptions=True)
                failures += [a for a in answers if isinstance(a, BaseException)]
    finally:
        await database.dispose()
    assert failures == []


async def _read_then_write(database: Database, reads_first: bool, user_id: int) -> None:
    async with database.transaction(reads_first=reads_first) as session:
        user = await session.get(User, user_id)
        assert user is not None
        user.name = "still here"
        await session.flush()

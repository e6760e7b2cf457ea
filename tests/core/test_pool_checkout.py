"""What the pool hands out on PostgreSQL: a connection it pinged is as clean as any other.

The pool pings a connection that sat idle for a while (app/core/database.py). The ping is a
statement, and the driver opens a transaction for it: a connection handed out inside that
transaction would run the request in a transaction begun before it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import event, select, text, update

from app.core import database
from app.core.settings import Settings
from app.users.models import User
from tests import resource_factories as rf
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


async def test_the_ping_of_an_idle_connection_is_one_round_trip(
    settings: Settings, postgresql: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """After an idle spell the pool pings every connection as it hands it out, all at once
    when a burst of requests arrives: each round trip of the ping is a turn of a busy event
    loop, which doubled the burst's answer times while it lasted. What the driver sends for
    the ping, as PostgreSQL's protocol trace shows it: one query, no BEGIN nor ROLLBACK
    around it; the request's own statements follow in a transaction, as on any
    connection."""
    monkeypatch.setattr(database, "PING_IDLE_SECONDS", 0.0)
    engine = database.build_engine(settings)
    trace = (tmp_path / "trace").open("w")
    try:
        async with engine.connect() as connection:  # the pool's one connection so far
            raw = await connection.get_raw_connection()
            pgconn = raw.driver_connection.pgconn
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        async with engine.connect() as connection:  # the same one, pinged on checkout
            handed_out = (await connection.get_raw_connection()).driver_connection
            assert handed_out.pgconn is pgconn
            assert handed_out.autocommit is False  # the driver's default, as before the ping
            assert (await connection.execute(text("SELECT 2"))).scalar() == 2
        pgconn.untrace()
    finally:
        trace.close()
        await engine.dispose()
    sent = [line.split("\t")[2:] for line
            in (tmp_path / "trace").read_text().splitlines() if line.startswith("F\t")]
    # Before: BEGIN, SELECT 1 and ROLLBACK, three round trips before the request's own.
    assert sent == [["Query", ' "SELECT 1"'],
                    ["Query", ' "BEGIN"'], ["Query", ' "SELECT 2"'], ["Query", ' "ROLLBACK"']]


async def test_a_request_after_an_idle_spell_pays_one_round_trip_for_the_ping(
    app: Any, client: httpx.AsyncClient, db: Any, postgresql: str,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """The user's side of the ping: `GET /users/me` on a connection idle past the ping's
    threshold. PostgreSQL's protocol trace of that request: the ping is one query, and the
    request's own statements come right after it (before: BEGIN, SELECT 1 and ROLLBACK
    first, two round trips more for every connection of the pool after a quiet spell)."""
    tenant = await rf.create_tenant(db)
    await db.close()
    monkeypatch.setattr(database, "PING_IDLE_SECONDS", 0.0)  # every checkout is "idle"
    # Whichever pooled connection the request gets (the app's background work may hold
    # another at that moment), its trace starts before the ping: this listener runs first.
    traces: dict[int, Any] = {}

    def trace_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        pgconn = dbapi_connection.driver_connection.pgconn
        if id(pgconn) not in traces:
            path = tmp_path / f"trace-{len(traces)}"
            traces[id(pgconn)] = (pgconn, path, path.open("w"))
            pgconn.trace(traces[id(pgconn)][2].fileno())
            pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    pool = app.state.database.engine.sync_engine.pool
    event.listen(pool, "checkout", trace_checkout, insert=True)
    try:
        r = await client.get("/users/me", headers=tenant.headers)
    finally:
        event.remove(pool, "checkout", trace_checkout)
        for pgconn, _path, file in traces.values():
            pgconn.untrace()
            file.close()
    assert r.status_code == 200, r.text
    assert r.json()["email"] == tenant.user.email
    sent_by_connection = [
        [line.split("\t")[2:] for line in path.read_text().splitlines()
         if line.startswith("F\t")]
        for _pgconn, path, _file in traces.values()]
    requests = [sent for sent in sent_by_connection
                if any("social_account" in " ".join(message) for message in sent)]
    assert len(requests) == 1, sent_by_connection
    sent = requests[0]
    assert sent[0] == ["Query", ' "SELECT 1"'], sent
    # Next, the request's own first statement (the access generation), no ROLLBACK or
    # BEGIN between.
    assert sent[1][0] == "Parse" and "SELECT" in sent[1][1], sent

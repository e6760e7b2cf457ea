"""Which database errors mean "unavailable, try again" (503) and which are the server's own
fault (500): decided on errors the real drivers raise."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from app.core.errors import database_unavailable
from tests.conftest import free_port


def _wrapped(error: Exception) -> OperationalError:
    return OperationalError("statement", {}, error)


def _sqlite_error(path: Path, statement: str, *, hold_lock: bool = False) -> Exception:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    if hold_lock:
        holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, timeout=0)
    try:
        other.execute(statement)
    except sqlite3.OperationalError as error:
        return error
    finally:
        other.close()
        holder.close()
    raise AssertionError("no error")


def test_a_locked_sqlite_database_is_unavailable_a_missing_table_is_not(
    tmp_path: Path
) -> None:
    locked = _sqlite_error(tmp_path / "a.db", "INSERT INTO t VALUES (1)", hold_lock=True)
    missing = _sqlite_error(tmp_path / "b.db", "SELECT * FROM nowhere")
    assert database_unavailable(_wrapped(locked))
    assert not database_unavailable(_wrapped(missing))


def test_a_postgresql_that_cannot_be_reached_is_unavailable() -> None:
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/x", connect_timeout=5)
    assert database_unavailable(_wrapped(refused.value))


def test_postgresql_errors_by_their_class(postgresql: str) -> None:
    with psycopg.connect(postgresql, autocommit=True) as conn:
        with pytest.raises(psycopg.OperationalError) as too_many:
            conn.execute("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '53300'; END $$")
        with pytest.raises(psycopg.OperationalError) as shutdown:
            conn.execute("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '57P01'; END $$")
        with pytest.raises(psycopg.OperationalError) as canceled:
            conn.execute("SET statement_timeout = 1; SELECT pg_sleep(1)")
    assert database_unavailable(_wrapped(too_many.value))
    assert database_unavailable(_wrapped(shutdown.value))
    # A statement the server gave up on (its time limit) is no outage.
    assert not database_unavailable(_wrapped(canceled.value))

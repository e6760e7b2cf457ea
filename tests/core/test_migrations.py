"""The Alembic chain upgrades and downgrades on SQLite and PostgreSQL and matches the models."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool, text
from sqlalchemy.engine import make_url

from app.core import migrations
from app.core.settings import Settings
from app.models import Base

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _settings(url: str) -> Settings:
    return Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A scratch database on the test PostgreSQL server, dropped afterwards."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        base = DEFAULT_POSTGRES
    admin = create_engine(
        migrations.sync_url(base), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    name = f"migrations_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server here: only allowed outside CI
        admin.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {base}: {exc}")
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(migrations.sync_url(url), poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _drift(url: str) -> list[object]:
    engine = create_engine(migrations.sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    settings = _settings(url)
    migrations.upgrade(settings)
    assert _tables(url) == set(Base.metadata.tables)
    assert not migrations.pending(settings)
    assert _drift(url) == [], "models and migrations disagree: add a migration"

    migrations.downgrade(settings, "base")
    assert _tables(url) == set()
    assert migrations.pending(settings)

    migrations.upgrade(settings)
    assert _tables(url) == set(Base.metadata.tables)


def test_round_trip_on_sqlite(sqlite_url: str) -> None:
    _round_trip(sqlite_url)


def test_round_trip_on_postgresql(postgres_url: str) -> None:
    _round_trip(postgres_url)


def test_sqlite_tables_never_reuse_ids(sqlite_url: str) -> None:
    """Every integer-keyed table is AUTOINCREMENT on SQLite (a later batch migration that
    rebuilds a table must keep it), and the rebuild kept the named CHECK constraint."""
    migrations.upgrade(_settings(sqlite_url))
    engine = create_engine(migrations.sync_url(sqlite_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            ddl = dict(conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
            keyed = [table for table in Base.metadata.sorted_tables
                     if [c.name for c in table.primary_key.columns] == ["id"]
                     and table.c.id.type.python_type is int]
            assert keyed
            assert [t.name for t in keyed if "AUTOINCREMENT" not in ddl[t.name]] == []
            assert "ck_team_links_one_target" in ddl["team_links"]
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    finally:
        engine.dispose()
    assert _drift(sqlite_url) == []

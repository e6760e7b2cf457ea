"""Migration 0004 upgrades, downgrades and matches the models (on a throwaway SQLite file;
the PostgreSQL run of the suite upgrades its own database through the same chain)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool

from app.core.migrations import downgrade, sync_url, upgrade
from app.core.settings import Settings
from app.models import Base

TABLES = {"servers", "applications", "services", "daemons", "cron_jobs", "ssl_certificates",
          "virtual_hosts", "network_rules", "ssh_keys", "variables", "resource_servers"}


def test_upgrade_downgrade_and_no_drift(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
                        _env_file=None)  # type: ignore[call-arg]
    upgrade(settings)
    engine = create_engine(sync_url(settings.database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= TABLES
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            mine = [d for d in diff if any(t in repr(d) for t in TABLES)]
            assert mine == [], mine
        downgrade(settings, "0002")
        with engine.connect() as connection:
            assert not TABLES & set(inspect(connection).get_table_names())
        upgrade(settings)
    finally:
        engine.dispose()

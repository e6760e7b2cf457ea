"""Migration 0002 seeds the predefined roles and takes them back on downgrade."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, pool, text

from app.access.catalogue import ALL_PERMISSIONS, DEPLOY_PERMISSIONS, READ_PERMISSIONS
from app.core import migrations
from app.core.settings import Settings


def _roles(url: str) -> dict[str, list[str]]:
    engine = create_engine(migrations.sync_url(url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, permissions FROM roles WHERE is_predefined")).all()
    engine.dispose()
    return {name: perms if isinstance(perms, list) else json.loads(perms) for name, perms in rows}


def test_predefined_roles_are_seeded_from_the_catalogue(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'seed.db'}"
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    migrations.upgrade(settings, "0002")
    roles = _roles(url)
    # The migration froze the catalogue as it stood; it must still match the live one.
    assert set(roles["Owner"]) == ALL_PERMISSIONS
    assert set(roles["Read-only"]) == READ_PERMISSIONS
    assert set(roles["Deployer"]) == DEPLOY_PERMISSIONS
    assert "application:deploy" in roles["Deployer"]
    assert not any(p.endswith(":delete") for p in roles["Deployer"])
    migrations.downgrade(settings, "0001")
    assert _roles(url) == {}

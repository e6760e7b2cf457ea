"""Backup and restore round trips on SQLite and PostgreSQL, through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

from sqlalchemy import create_engine, pool, text

from app.core import migrations
from tests.conftest import ROOT
from tests.core.test_migrations import postgres_url  # noqa: F401  (fixture)

SECRET = "backup-test-secret-key"


def _cli(url: str, *args: str, secret: str = SECRET) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=url, SECRET_KEY=secret)
    return subprocess.run(
        [sys.executable, "-m", "launcher.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _emails(url: str) -> list[str]:
    engine = create_engine(migrations.sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT email FROM users ORDER BY email"))]
    finally:
        engine.dispose()


def _round_trip(url: str, tmp_path: Path) -> None:
    assert _cli(url, "migrate").returncode == 0
    made = _cli(
        url,
        "create-user",
        "--email",
        "keep@example.com",
        "--password",
        "long-password",
        "--name",
        "Keep Me",
    )
    assert made.returncode == 0, made.stderr
    archive = tmp_path / "backup.tar.gz"
    result = _cli(url, "backup", "--output", str(archive))
    assert result.returncode == 0, result.stderr
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert set(names) == {"manifest.json", "database.dump"}
        for member in tar.getmembers():
            data = tar.extractfile(member)
            assert data is not None and SECRET.encode() not in data.read()

    # Damage after the backup: a new user and a lost one.
    _cli(
        url,
        "create-user",
        "--email",
        "later@example.com",
        "--password",
        "long-password",
        "--name",
        "Later One",
    )
    engine = create_engine(migrations.sync_url(url), poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM api_tokens"))
        conn.execute(text("DELETE FROM users WHERE email = 'keep@example.com'"))
    engine.dispose()
    assert _emails(url) == ["later@example.com"]

    refused = _cli(url, "restore", "--input", str(archive))
    assert refused.returncode == 2
    wrong_key = _cli(
        url, "restore", "--input", str(archive), "--yes", secret="another-secret-key-value"
    )
    assert wrong_key.returncode == 1 and "SECRET_KEY" in wrong_key.stderr
    assert _emails(url) == ["later@example.com"]

    restored = _cli(url, "restore", "--input", str(archive), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert _emails(url) == ["keep@example.com"]
    settings_check = _cli(url, "migrate")
    assert settings_check.returncode == 0


def test_sqlite_round_trip(tmp_path: Path) -> None:
    _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'live.db'}", tmp_path)


def test_postgresql_round_trip(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    _round_trip(postgres_url, tmp_path)


def test_restore_refuses_the_other_database_kind(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    assert _cli(url, "migrate").returncode == 0
    archive = tmp_path / "b.tar.gz"
    assert _cli(url, "backup", "--output", str(archive)).returncode == 0
    result = _cli(
        "postgresql+psycopg://postgres@127.0.0.1:1/nothing",
        "restore",
        "--input",
        str(archive),
        "--yes",
    )
    assert result.returncode == 1 and "sqlite" in result.stderr

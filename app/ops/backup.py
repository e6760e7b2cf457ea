"""Consistent backups and restores of the database, for PostgreSQL and SQLite.

A backup is a gzip'd tar with `manifest.json` and the database dump (`pg_dump` custom
format, or a SQLite copy made with the online backup API). SECRET_KEY is never in it: the
manifest records only a fingerprint, so a restore can tell whether the current key can
decrypt the secrets inside.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import URL, make_url

from app.core import migrations
from app.core.security import key_fingerprint
from app.core.settings import Settings

FORMAT_VERSION = 1


class BackupError(Exception):
    pass


@dataclass(frozen=True)
class Manifest:
    database: str
    revision: str | None
    created_at: str
    key_fingerprint: str
    format: int = FORMAT_VERSION

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            database=data["database"],
            revision=data.get("revision"),
            created_at=data["created_at"],
            key_fingerprint=data["key_fingerprint"],
            format=int(data.get("format", FORMAT_VERSION)),
        )


def _current_revision(settings: Settings) -> str | None:
    engine = create_engine(migrations.sync_url(settings.database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    finally:
        engine.dispose()
    return str(row[0]) if row else None


def _libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment that carries it."""
    url: URL = make_url(settings.database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[:2000]}")


def backup(settings: Settings, output: Path) -> Manifest:
    manifest = Manifest(
        database="sqlite" if settings.is_sqlite else "postgresql",
        revision=_current_revision(settings),
        created_at=datetime.now(UTC).isoformat(),
        key_fingerprint=key_fingerprint(settings),
    )
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "database.dump"
        if settings.is_sqlite:
            source = sqlite3.connect(_sqlite_path(settings))
            target = sqlite3.connect(dump)
            try:
                source.backup(target)  # consistent even while the server writes
            finally:
                target.close()
                source.close()
        else:
            url, env = _libpq(settings)
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={dump}",
                    f"--dbname={url}",
                ],
                env,
            )
        (Path(tmp) / "manifest.json").write_text(json.dumps(manifest.__dict__, indent=2))
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(Path(tmp) / "manifest.json", arcname="manifest.json")
            archive.add(dump, arcname="database.dump")
        partial.replace(output)  # never leave a truncated file under the final name
    return manifest


def read_manifest(archive_path: Path) -> Manifest:
    with tarfile.open(archive_path, "r:gz") as archive:
        member = archive.extractfile("manifest.json")
        if member is None:
            raise BackupError("not a devopness-server backup: manifest.json missing")
        return Manifest.from_dict(json.loads(member.read()))


def restore(
    settings: Settings, archive_path: Path, *, ignore_key_mismatch: bool = False
) -> Manifest:
    """Replace the configured database's contents with the backup, then migrate to head."""
    manifest = read_manifest(archive_path)
    kind = "sqlite" if settings.is_sqlite else "postgresql"
    if manifest.database != kind:
        raise BackupError(
            f"this backup is of a {manifest.database} database; DATABASE_URL is {kind}"
        )
    if manifest.key_fingerprint != key_fingerprint(settings) and not ignore_key_mismatch:
        raise BackupError(
            "SECRET_KEY differs from the one this backup was made with: stored secrets "
            "would not decrypt. Set the original SECRET_KEY, or pass --ignore-key-mismatch."
        )
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(archive_path, "r:gz") as archive:
            archive.extract("database.dump", tmp, filter="data")
        dump = Path(tmp) / "database.dump"
        if settings.is_sqlite:
            target_path = _sqlite_path(settings)
            target_path.parent.mkdir(parents=True, exist_ok=True)
            source = sqlite3.connect(dump)
            target = sqlite3.connect(target_path)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        else:
            url, env = _libpq(settings)
            engine = create_engine(
                migrations.sync_url(settings.database_url), poolclass=pool.NullPool
            )
            try:
                with engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            finally:
                engine.dispose()
            _run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--no-privileges",
                    "--single-transaction",
                    f"--dbname={url}",
                    str(dump),
                ],
                env,
            )
    migrations.upgrade(settings)
    return manifest

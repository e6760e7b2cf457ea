"""Key rotation: `reencrypt-secrets` re-seals stored secrets from the previous key."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from app.core.security import SecretBox
from app.core.settings import Settings
from tests.core.test_cli import _run

OLD = "old-secret-key-0123456789"
NEW = "new-secret-key-9876543210"


def _box(key: str, previous: str | None = None) -> SecretBox:
    return SecretBox(Settings(secret_key=key, previous_secret_key=previous,
                              _env_file=None))  # type: ignore[call-arg]


def test_previous_key_still_opens_values_until_resealed() -> None:
    sealed = _box(OLD).encrypt("s3cret")
    with pytest.raises(InvalidTag):
        _box(NEW).decrypt(sealed)
    rotated = _box(NEW, previous=OLD)
    assert rotated.decrypt(sealed) == "s3cret"
    assert not rotated.sealed_with_current_key(sealed)
    assert rotated.sealed_with_current_key(rotated.encrypt("s3cret"))


def test_reencrypt_secrets_command(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate", SECRET_KEY=OLD).returncode == 0
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    sealed = _box(OLD).encrypt('{"api_token": "do-token"}')
    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.execute(
            "INSERT INTO credentials (name, provider_code, provider_type, auth_type, active,"
            " settings_encrypted, created_at, updated_at) VALUES"
            " ('do', 'digitalocean', 'cloud_provider', 'api_credentials', 1, ?, ?, ?)",
            (sealed, now, now),
        )

    def stored() -> str:
        with sqlite3.connect(tmp_path / "cli.db") as db:
            value: str = db.execute("SELECT settings_encrypted FROM credentials").fetchone()[0]
            return value

    result = _run(tmp_path, "reencrypt-secrets", SECRET_KEY=NEW)
    assert result.returncode == 2 and "PREVIOUS_SECRET_KEY" in result.stderr
    result = _run(tmp_path, "reencrypt-secrets", "--dry-run", SECRET_KEY=NEW,
                  PREVIOUS_SECRET_KEY=OLD)
    assert result.returncode == 0, result.stderr
    assert "would re-seal 1 value(s) in credentials.settings_encrypted" in result.stdout
    assert stored() == sealed
    result = _run(tmp_path, "reencrypt-secrets", SECRET_KEY=NEW, PREVIOUS_SECRET_KEY=OLD)
    assert result.returncode == 0, result.stderr
    assert "re-sealed 1 value(s) in credentials.settings_encrypted" in result.stdout
    assert _box(NEW).decrypt(stored()) == '{"api_token": "do-token"}'
    result = _run(tmp_path, "reencrypt-secrets", SECRET_KEY=NEW, PREVIOUS_SECRET_KEY=OLD)
    assert "1 value(s) already sealed with SECRET_KEY" in result.stdout
    # A value sealed with a key nobody configured is reported, not silently kept.
    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.execute("UPDATE credentials SET settings_encrypted = ?",
                   (_box("a-third-key-000000000").encrypt("x"),))
    result = _run(tmp_path, "reencrypt-secrets", SECRET_KEY=NEW, PREVIOUS_SECRET_KEY=OLD)
    assert result.returncode == 1 and "credentials.settings_encrypted[1]" in result.stderr

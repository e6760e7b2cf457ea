"""A revoked token stops working at once on every API process, not only the one that
handled the revocation (`devopness-server serve --workers 2` on PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import ROOT, free_port

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
DATABASE = "test_revocation_workers"

pytestmark = pytest.mark.skipif(
    not PG_URL.startswith("postgresql"),
    reason="several API workers need PostgreSQL (set TEST_DATABASE_URL); "
           "the PostgreSQL pass runs it",
)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "launcher.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    variables = {k: v for k, v in os.environ.items()
                 if k not in ("REDIS_URL", "ACCESS_CACHE_SECONDS")}
    variables.update(DATABASE_URL=PG_URL.rsplit("/", 1)[0] + f"/{DATABASE}",
                     SECRET_KEY="revocation-test-key")
    migrated = _cli(variables, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    yield variables
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def _serve(env: dict[str, str], port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    log = (tmp_path / "serve.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "launcher.cli", "serve", "--workers", "2", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )


def test_revoked_token_is_refused_by_every_worker(env: dict[str, str], tmp_path: Path) -> None:
    owner = _cli(env, "create-user", "--email", "rev@example.com", "--password",
                 "long-password", "--name", "Revoker")
    assert owner.returncode == 0, owner.stderr
    admin_token = owner.stdout.strip()
    port = free_port()
    server = _serve(env, port, tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/users/me", timeout=2).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (
                (tmp_path / "serve.log").read_text())
            time.sleep(0.2)
        admin = {"Authorization": f"Bearer {admin_token}"}
        soon = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        created = httpx.post(f"{url}/users/personal-access-tokens", headers=admin, timeout=30,
                             json={"name": "ci-token", "expires_at": soon})
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        victim = {"Authorization": f"Bearer {token}"}
        # New connections each time, so both workers serve (and would cache) the token.
        for _ in range(30):
            assert httpx.get(f"{url}/users/me", headers=victim, timeout=30).status_code == 200
        revoked = httpx.delete(
            f"{url}/users/personal-access-tokens/{created.json()['id']}/revoke",
            headers=admin, timeout=30)
        assert revoked.status_code == 204, revoked.text
        answers = [httpx.get(f"{url}/users/me", headers=victim, timeout=30).status_code
                   for _ in range(30)]
        assert answers == [401] * 30
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


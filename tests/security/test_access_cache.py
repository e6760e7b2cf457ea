"""API processes reuse resolved tokens and permissions (the access cache), yet every change
to who may do what reaches every process at commit, whoever writes it.

Runs `devopness-server serve --workers 2` on a PostgreSQL database of its own, seeded with
the statement-count guard's world (a team member whose role, linked to the organization,
grants everything). The caller reads through many fresh connections so both workers
cache; then the change is written by another writer (plain SQL, as an operator or a
worker would) and the very next reads, on every worker, must see it. The listening
connections are also cut to prove nothing is served from the cache while they are down.

The processes run as shipped: ACCESS_CACHE_SECONDS unset, so its default. With the cache
on (it is opt-in since this failed once in CI: a revoked token answered 200 on the first
read after the commit, the notice not yet heard by that worker) these reads are not
guaranteed to see a change at once; closing that window is left on issue 20.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import ROOT, free_port

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
DATABASE = "test_access_cache"
FEED = "devopness-access-feed"
READS = 24  # new connections each: both workers serve (and would cache) the caller

pytestmark = pytest.mark.skipif(
    not PG_URL.startswith("postgresql"),
    reason="the access cache needs PostgreSQL's notifications (set TEST_DATABASE_URL); "
           "the PostgreSQL pass runs it",
)


@dataclass
class Running:
    url: str
    conninfo: str
    token: str
    project_id: int
    caller_id: int
    everything_role_id: int


def _admin() -> str:
    return PG_URL.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]


def _seed(database_url: str) -> tuple[str, int, int, int]:
    from sqlalchemy import select

    from app.core.database import Database
    from app.core.settings import Settings
    from app.teams.models import TeamLink
    from tests.perf import world

    async def run() -> tuple[str, int, int, int]:
        settings = Settings(database_url=database_url, secret_key="access-cache-test-key",
                            _env_file=None)
        database = Database(settings)
        async with database.sessionmaker() as db:
            w = await world.seed(db, settings)
            role_id = await db.scalar(select(TeamLink.role_id).where(
                TeamLink.team_id == w.team.id, TeamLink.organization_id == w.organization.id))
            await db.commit()
            seeded = (w.token, w.project.id, w.caller.id, int(role_id or 0))
        await database.dispose()
        return seeded

    return asyncio.run(run())


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with psycopg.connect(f"{_admin()}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    database_url = PG_URL.rsplit("/", 1)[0] + f"/{DATABASE}"
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "AUTH_CACHE_SECONDS", "ACCESS_CACHE_SECONDS")}
    env.update(DATABASE_URL=database_url, SECRET_KEY="access-cache-test-key",
               RATE_LIMIT_ENABLED="false")
    migrated = subprocess.run([sys.executable, "-m", "launcher.cli", "migrate"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    token, project_id, caller_id, role_id = _seed(database_url)
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "launcher.cli", "serve", "--workers", "2", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    conninfo = f"{_admin()}/{DATABASE}"
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while _listeners(conninfo) < 2:
            assert server.poll() is None and time.monotonic() < deadline, (
                (tmp_path / "serve.log").read_text())
            time.sleep(0.2)
        yield Running(url, conninfo, token, project_id, caller_id, role_id)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        with psycopg.connect(f"{_admin()}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def _listeners(conninfo: str) -> int:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                           (FEED,)).fetchone()
    return int(row[0]) if row else 0


def _sql(conninfo: str, statement: str, *params: object) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(statement, params)


def _reads(r: Running, path: str) -> list[int]:
    headers = {"Authorization": f"Bearer {r.token}"}
    return [httpx.get(f"{r.url}{path}", headers=headers, timeout=30).status_code
            for _ in range(READS)]


def test_a_token_revoked_by_another_writer_is_refused_by_every_worker(r: Running) -> None:
    assert _reads(r, "/users/me") == [200] * READS
    _sql(r.conninfo, "UPDATE api_tokens SET revoked_at = now() WHERE user_id = %s "
                     "AND type = 'personal_access_token'", r.caller_id)
    assert _reads(r, "/users/me") == [401] * READS


def test_a_role_emptied_elsewhere_takes_the_project_away_at_once(r: Running) -> None:
    path = f"/projects/{r.project_id}"
    assert _reads(r, path) == [200] * READS
    _sql(r.conninfo, "UPDATE roles SET permissions = '[]' WHERE id = %s", r.everything_role_id)
    answers = _reads(r, path)
    assert 200 not in answers and len(set(answers)) == 1, answers


def test_a_team_membership_removed_elsewhere_takes_the_project_away_at_once(
        r: Running) -> None:
    path = f"/projects/{r.project_id}"
    assert _reads(r, path) == [200] * READS
    _sql(r.conninfo, "DELETE FROM team_members WHERE user_id = %s", r.caller_id)
    answers = _reads(r, path)
    assert 200 not in answers and len(set(answers)) == 1, answers


def test_nothing_is_served_from_the_cache_while_the_feed_is_down(r: Running) -> None:
    assert _reads(r, "/users/me") == [200] * READS
    # Cut the listening connections and revoke while the workers cannot hear it: with the
    # feed down the caches must not answer, so the revocation holds at once anyway.
    _sql(r.conninfo, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name = %s", FEED)
    time.sleep(0.1)
    _sql(r.conninfo, "ALTER TABLE api_tokens DISABLE TRIGGER USER")
    try:
        _sql(r.conninfo, "UPDATE api_tokens SET revoked_at = now() WHERE user_id = %s "
                         "AND type = 'personal_access_token'", r.caller_id)
    finally:
        _sql(r.conninfo, "ALTER TABLE api_tokens ENABLE TRIGGER USER")
    assert _reads(r, "/users/me") == [401] * READS
    # And the workers listen again by themselves.
    deadline = time.monotonic() + 30
    while _listeners(r.conninfo) < 2:
        assert time.monotonic() < deadline, "the access feed did not reconnect"
        time.sleep(0.2)


@pytest.fixture
def r(running: Running) -> Running:
    return running

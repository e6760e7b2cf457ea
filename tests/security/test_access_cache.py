"""API processes reuse resolved tokens and permissions (the access cache, on by default), yet
every change to who may do what is seen by the very next request on every process, whoever
writes it.

Runs `devopness-server serve --workers 2` on a PostgreSQL database of its own, seeded with
the statement-count guard's world (a team member whose role, linked to the organization,
grants everything). The caller reads through many fresh connections so both workers
cache; then the change is written by another writer (plain SQL, as an operator or a
worker would) and the very next reads, on every worker, must see it. One test revokes
while reads are in flight and holds every read that started after the revocation's commit
to a refusal: the moment between a commit and a cache hearing of it (the window that made
the cache opt-in, when it learnt of changes by NOTIFY) must not exist.

The processes run as shipped: ACCESS_CACHE_SECONDS unset, so its default (on).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
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
READS = 24  # new connections each: both workers serve (and would cache) the caller

pytestmark = pytest.mark.skipif(
    not PG_URL.startswith("postgresql"),
    reason="several API processes need PostgreSQL (set TEST_DATABASE_URL); "
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
        while not _up(url):
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


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/users/me", timeout=2).status_code == 401
    except httpx.TransportError:
        return False


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


def test_no_read_started_after_a_revocation_committed_is_served(r: Running) -> None:
    """Readers on both workers keep going while another writer revokes the token: every
    read that began after the revoking statement returned is refused."""
    headers = {"Authorization": f"Bearer {r.token}"}
    assert _reads(r, "/users/me") == [200] * READS
    seen: list[tuple[float, int]] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            started = time.monotonic()
            # A new connection per read, so both workers keep answering.
            status = httpx.get(f"{r.url}/users/me", headers=headers, timeout=30).status_code
            seen.append((started, status))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        _sql(r.conninfo, "UPDATE api_tokens SET revoked_at = now() WHERE user_id = %s "
                         "AND type = 'personal_access_token'", r.caller_id)
        committed = time.monotonic()
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    before = [status for started, status in seen if started < committed]
    after = [status for started, status in seen if started > committed]
    assert before and set(before) <= {200, 401}, before
    assert 200 in before, "no read was served before the revocation"
    assert len(after) > 10 and set(after) == {401}, after


@pytest.fixture
def r(running: Running) -> Running:
    return running

"""Throughput and latency of authenticated API reads against a bare FastAPI floor.

usage: python benchmarks/api.py [--server-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                [--rows 1000] [--requests 2000] [--concurrency 1,50]

Creates a scratch PostgreSQL database on the given server (dropped afterwards), migrates it,
seeds one user with a personal access token and a project of `--rows` environments, then
serves, each in its own uvicorn process:
- the real application (authentication, authorization, pagination, Link header);
- a bare FastAPI app running the same SELECTs and serializing the same rows with the same
  response schemas, without authentication or pagination (the floor).
It measures `GET /projects/{id}/environments?per_page=20` (relations expanded: project,
organization, creator) and `GET /projects/{id}` at each concurrency, and prints a table with
throughput, p50 and p99 latency and the app/floor throughput ratio. No assertions: it
reports, it does not judge.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from sqlalchemy import create_engine, insert, pool, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from app.core import migrations  # noqa: E402
from app.core.database import Database  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.environments.models import Environment  # noqa: E402
from app.environments.repository import EnvironmentRepository  # noqa: E402
from app.environments.schemas import EnvironmentRelation  # noqa: E402
from app.projects.models import Project  # noqa: E402
from app.projects.repository import ProjectRepository  # noqa: E402
from app.projects.schemas import Project as ProjectSchema  # noqa: E402
from app.projects.service import ProjectService  # noqa: E402

SECRET_KEY = "benchmark-secret-key-not-for-production"


# ---------------------------------------------------------------- the floor


def bare_app() -> FastAPI:
    """Same queries and serialization as the real endpoints, nothing else (uvicorn factory)."""
    database = Database(Settings(_env_file=None))
    app = FastAPI()

    @app.get("/projects/{project_id:int}/environments")
    async def environments(project_id: int) -> list[EnvironmentRelation]:
        async with database.sessionmaker() as session:
            stmt = EnvironmentRepository.with_relations(
                select(Environment).where(
                    Environment.project_id == project_id, Environment.archived_at.is_(None)
                )
            ).order_by(Environment.name, Environment.id)
            rows = (await session.scalars(stmt.limit(20))).all()
            return [EnvironmentRelation.model_validate(row) for row in rows]

    @app.get("/projects/{project_id:int}")
    async def project(project_id: int) -> ProjectSchema:
        async with database.sessionmaker() as session:
            found = await session.get(Project, project_id)
            assert found is not None
            await ProjectRepository(session).load_relations(found)
            body = ProjectSchema.model_validate(found)
            body.resource_summary = await ProjectService(session).summary(found)
            return body

    return app


# ---------------------------------------------------------------- setup


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _admin_engine(server_url: str) -> Any:
    return create_engine(
        migrations.sync_url(server_url), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )


def create_database(server_url: str) -> str:
    name = f"devopness_bench_{uuid.uuid4().hex[:8]}"
    engine = _admin_engine(server_url)
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    engine = _admin_engine(server_url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


async def seed(settings: Settings, rows: int) -> tuple[str, int]:
    """One user with a PAT, an organization project with `rows` environments."""
    from app.core.security import hash_password, hash_token, new_token
    from app.organizations.models import Organization
    from app.tokens.models import ApiToken, ApiTokenType
    from app.tokens.service import PREFIXES
    from app.users.models import User

    database = Database(settings)
    secret = new_token(PREFIXES[ApiTokenType.PERSONAL_ACCESS_TOKEN])
    now = datetime.now(UTC)
    async with database.transaction() as session:
        user = User(
            email="bench@example.com",
            name="Bench User",
            url_slug="bench",
            password_hash=hash_password("benchmark-password"),
            active=True,
            email_verified_at=now,
        )
        session.add(user)
        await session.flush()
        org = Organization(name="Bench Org", url_slug="bench-org", owner_id=user.id)
        session.add(org)
        await session.flush()
        project = Project(name="Bench", user_id=user.id, organization_id=org.id, created_by=user.id)
        session.add(project)
        session.add(
            ApiToken(
                type=ApiTokenType.PERSONAL_ACCESS_TOKEN,
                name="bench",
                token_hash=hash_token(secret),
                user_id=user.id,
                expires_at=now + timedelta(days=1),
            )
        )
        await session.flush()
        await _insert_environments(session, project.id, user.id, rows, now)
        project_id = project.id
    await database.dispose()
    return secret, project_id


async def _insert_environments(
    session: AsyncSession, project_id: int, user_id: int, rows: int, now: datetime
) -> None:
    # Key pairs are irrelevant to reads; one placeholder keeps seeding fast.
    await session.execute(
        insert(Environment),
        [
            {
                "project_id": project_id,
                "type": ("development", "staging", "production")[i % 3],
                "name": f"env-{i:05d}",
                "description": f"environment {i}",
                "created_by": user_id,
                "ssh_public_key": "ssh-ed25519 AAAA bench",
                "ssh_private_key_encrypted": "v1:placeholder",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(rows)
        ],
    )


# ---------------------------------------------------------------- serving and load


class Server:
    def __init__(self, target: str, env: dict[str, str], app_dir: Path) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                target,
                "--factory",
                "--app-dir",
                str(app_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            cwd=str(ROOT),
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.base + "/docs", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"server on {self.base} did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@dataclass
class Result:
    throughput: float
    p50_ms: float
    p99_ms: float
    errors: int


async def load(url: str, headers: dict[str, str], total: int, concurrency: int) -> Result:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        for _ in range(min(50, total)):  # warm-up: connections, caches, plans
            r = await client.get(url)
            r.raise_for_status()
        latencies: list[float] = []
        remaining = total
        errors = 0

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                try:
                    r = await client.get(url)
                except httpx.TransportError:
                    # Counted and reported: a dropped connection is a result, not a crash.
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if r.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        throughput=len(latencies) / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        errors=errors,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        usage=(
            "python benchmarks/api.py [--server-url URL] [--rows N] [--requests N] "
            "[--concurrency 1,50]"
        ),
    )
    parser.add_argument(
        "--server-url",
        default=os.environ.get(
            "BENCH_SERVER_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="PostgreSQL server to create the scratch database on (any database on it)",
    )
    parser.add_argument("--rows", type=int, default=1000, help="environments to seed")
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement")
    parser.add_argument("--concurrency", default="1,50", help="comma-separated client counts")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    url = create_database(args.server_url)
    servers: list[Server] = []
    try:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET_KEY,
            "ENVIRONMENT": "development",
            "LOG_LEVEL": "WARNING",
            "DATABASE_POOL_SIZE": "20",
            # One client hammering one token is what the rate limiter exists to stop;
            # the benchmark measures the work behind it.
            "RATE_LIMIT_ENABLED": "false",
        }
        settings = Settings(database_url=url, secret_key=SECRET_KEY, _env_file=None)
        migrations.upgrade(settings)
        token, project_id = asyncio.run(seed(settings, args.rows))
        app_server = Server("launcher.api:create_app", env, ROOT)
        bare_server = Server("api:bare_app", env, ROOT / "benchmarks")
        servers = [app_server, bare_server]
        for server in servers:
            server.wait()

        endpoints = [
            ("environments list, per_page=20", f"/projects/{project_id}/environments?per_page=20"),
            ("GET /projects/{id}", f"/projects/{project_id}"),
        ]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        print(f"\n{args.rows} environments, {args.requests} requests per cell, PostgreSQL\n")
        print(
            "| endpoint | clients | app req/s | app p50 ms | app p99 ms "
            "| floor req/s | floor p50 ms | floor p99 ms | app/floor | errors |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, path in endpoints:
            for clients in levels:
                app_result = asyncio.run(
                    load(app_server.base + path, headers, args.requests, clients)
                )
                floor = asyncio.run(load(bare_server.base + path, {}, args.requests, clients))
                print(
                    f"| {label} | {clients} | {app_result.throughput:.0f} | "
                    f"{app_result.p50_ms:.1f} | {app_result.p99_ms:.1f} | "
                    f"{floor.throughput:.0f} | {floor.p50_ms:.1f} | {floor.p99_ms:.1f} | "
                    f"{app_result.throughput / floor.throughput:.2f} | "
                    f"{app_result.errors}/{floor.errors} |",
                    flush=True,
                )
    finally:
        for server in servers:
            server.stop()
        drop_database(args.server_url, url)


if __name__ == "__main__":
    main()

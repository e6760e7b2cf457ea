"""The controllers the fan-out benchmark measures, started as the README starts them
(`devopness-server ...` of this checkout, no engine plugin, nothing from tests/):
production (`serve` on PostgreSQL, a redis-server of its own, `worker` processes) and
embedded (`serve` alone on SQLite)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loopback import ROOT, Meter, Processes, free_port, wait_port

from app.core.settings import Settings


def setting(name: str) -> str:
    """A setting the measured processes start with: the caller's environment, else its
    default."""
    return os.environ.get(name.upper(), str(Settings.model_fields[name].default))


SESSIONS_PER_PROCESS = int(setting("worker_max_parallel_targets"))
POOL_SIZE = int(setting("database_pool_size"))
ENGINE_CIPHERS = setting("ssh_encryption_algs").split(",")
# What the caller's environment must not leak into the measured processes.
DROPPED = ("DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL", "ENGINE_PLUGINS",
           "DVP_TEST_ACCESS_FILE", "PUBLIC_URL", "SECRET_KEY", "ENVIRONMENT")


def launcher(*args: str) -> list[str]:
    """`devopness-server ...` of this checkout."""
    return [sys.executable, "-m", "launcher", *args]


# ---- the controllers ------------------------------------------------------------------


@dataclass
class Controller:
    mode: str
    url: str
    token: str
    components: dict[str, list[int]]
    sessions: int  # SSH sessions it may open at once over all its engine processes
    processes: int  # processes holding a database pool
    pg_dsn: str | None = None  # a connection to the cluster's `postgres` database
    database: str | None = None  # the controller's database
    database_dsn: str | None = None

    def meter(self) -> Meter:
        return Meter(self.components, self.pg_dsn, self.database)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    return {**env, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING",
            "SECRET_KEY": secrets.token_urlsafe(48),
            # Setting up thousands of servers is more than a minute's requests of one token.
            "RATE_LIMIT_ENABLED": "false",
            # The servers are on loopback.
            "OUTBOUND_ALLOW_PRIVATE_NETWORKS": "true"}


def create_user(env: dict[str, str], work: Path) -> str:
    result = subprocess.run(
        launcher("create-user", "--email", "bench@example.com", "--password",
                 secrets.token_urlsafe(16), "--name", "Bench"),
        env=env, cwd=work, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"create-user failed: {result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def serve(processes: Processes, env: dict[str, str], work: Path, *extra: str
          ) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = processes.start(launcher("serve", "--host", "127.0.0.1", "--port", str(port), *extra),
                          {**env, "PUBLIC_URL": url}, work, work / "api.log")
    wait_port(port, api, "the API (see api.log)", 300)
    return api, url


def start_embedded(processes: Processes, work: Path) -> Controller:
    env = {**base_env(), "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'embedded.db'}"}
    token = create_user(env, work)  # migrates the SQLite database first
    api, url = serve(processes, env, work)
    return Controller("embedded", url, token, {"api": [api.pid]}, SESSIONS_PER_PROCESS, 1)


def reset_database(url: str) -> tuple[str, str]:
    """Drop and re-create the benchmark's database; returns the DSN of the cluster's
    `postgres` database (the meters read through it) and the benchmark database's name."""
    import psycopg

    base, name = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/postgres", name


def start_production(processes: Processes, work: Path, database_url: str, workers: int,
                     concurrency: int) -> Controller:
    dsn, name = reset_database(database_url)
    redis_port = free_port()
    redis = processes.start(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(work),
         "--appendonly", "yes", "--save", "", "--loglevel", "warning"],
        os.environ.copy(), work, work / "redis.log")
    wait_port(redis_port, redis, "redis-server")
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {**base_env(), "ENVIRONMENT": "production", "DATABASE_URL": database_url,
           "REDIS_URL": redis_url}
    subprocess.run(launcher("migrate"), env=env, cwd=work, check=True, capture_output=True)
    token = create_user(env, work)
    api, url = serve(processes, env, work, "--no-migrate")
    pool = [processes.start(launcher("worker", "--concurrency", str(concurrency),
                                     "--loglevel", "WARNING"),
                            env, work, work / f"worker-{i}.log") for i in range(workers)]
    wait_workers(redis_url, pool)
    return Controller(
        "production", url, token,
        # Each worker on its own: an action runs in one worker's pool process.
        {"api": [api.pid], **{f"worker {i + 1}": [p.pid] for i, p in enumerate(pool)},
         "redis": [redis.pid]},
        sessions=workers * concurrency * SESSIONS_PER_PROCESS,
        processes=1 + workers * (1 + concurrency), pg_dsn=dsn, database=name,
        database_dsn=database_url.replace("postgresql+psycopg://", "postgresql://"))


def wait_workers(redis_url: str, pool: list[subprocess.Popen[bytes]]) -> None:
    """Until every worker announced itself (the heartbeat /readyz reads)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 300
    while len(client.keys("devopness:worker:*")) < len(pool):
        if any(p.poll() is not None for p in pool) or time.monotonic() > deadline:
            raise RuntimeError("the workers did not start (see worker-*.log)")
        time.sleep(0.5)
    client.close()


@contextmanager
def controller_of(processes: Processes, start: Callable[[], Controller]
                  ) -> Iterator[Controller]:
    """A controller's processes, stopped when its sizes are measured (sshd stays)."""
    before = list(processes.started)
    try:
        yield start()
    finally:
        # The workers and the API first, the broker they report to last.
        for process in reversed([p for p in processes.started if p not in before]):
            processes.stop(process)

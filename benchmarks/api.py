"""Throughput and latency of authenticated API reads, against a floor served the same way.

    python benchmarks/api.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test_perf]
                             [--workers 1,2] [--connections 32] [--duration 5] [--rounds 3]

Resets the given PostgreSQL database (every table dropped: use a database of its own), migrates
it and seeds the world of the statement-count guard (tests/perf/world.py: the caller is a team
member whose role grants everything, so every read pays the permission checks a non-owner
pays), plus `--rows` environments in its project and a finished action of 100 targets. Then,
for each worker count, it starts `devopness-server serve --workers N` as users run it, and a
floor: a bare FastAPI app under uvicorn with the same worker count that answers each path
with one indexed SELECT and the very body the real server returned (HTTP, one database
round trip and the response bytes: what no implementation of the endpoint can avoid).

Load: `wrk` (`apt-get install wrk`) with `--connections` keep-alive connections authenticated
by a personal access token, and the project's own Python client (httpx) at the same
concurrency. Each round measures every endpoint on the server and on the floor back to back;
the tables give the median over the rounds of req/s, p50 and p99 (wrk's latency
distribution) and the server/floor throughput ratio. The machine is shared: compare ratios
and medians, not single numbers. No assertions: it reports, it does not judge.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from fastapi import FastAPI, Response  # noqa: E402
from sqlalchemy import create_engine, insert, make_url, pool, text  # noqa: E402

from app.core import migrations  # noqa: E402
from app.core.database import Database  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from benchmarks.loopback import machine_cpu  # noqa: E402

SECRET_KEY = "benchmark-secret-key-not-for-production"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_perf"
BODIES_ENV = "DVP_BENCH_BODIES"


# ---------------------------------------------------------------- the floor


def bare_app() -> FastAPI:
    """Every benchmarked path: one indexed SELECT, then the stored body (uvicorn factory)."""
    import json

    database = Database(Settings(_env_file=None))
    bodies: dict[str, str] = json.loads(Path(os.environ[BODIES_ENV]).read_text())
    app = FastAPI()

    @app.get("/{path:path}")
    async def floor(path: str, request: Request) -> Response:
        key = "/" + path + (f"?{request.url.query}" if request.url.query else "")
        async with database.sessionmaker() as session:
            await session.execute(text("SELECT id FROM users WHERE id = 1"))
        return Response(bodies[key].encode(), media_type="application/json")

    return app


from fastapi import Request  # noqa: E402  (used by bare_app's signature at runtime)

# ---------------------------------------------------------------- setup


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reset_database(url: str) -> None:
    _create_database(url)
    engine = create_engine(
        migrations.sync_url(url), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _create_database(url: str) -> None:
    """Create the benchmark's database when it does not exist yet (one command suffices)."""
    target = make_url(migrations.sync_url(url))
    admin = create_engine(target.set(database="postgres"), poolclass=pool.NullPool,
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                              {"name": target.database}).first()
        if exists is None:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@dataclass
class Seeded:
    token: str
    paths: dict[str, str]


async def seed(settings: Settings, rows: int, targets: int) -> Seeded:
    from app.environments.models import Environment
    from tests.perf import world as perf_world

    database = Database(settings)
    async with database.sessionmaker() as db:
        w = await perf_world.seed(db, settings)
        now = datetime.now(UTC)
        await db.execute(
            insert(Environment),
            [
                {
                    "project_id": w.project.id,
                    "type": ("development", "staging", "production")[i % 3],
                    "name": f"bench-env-{i:05d}",
                    "description": f"environment {i}",
                    "created_by": w.owner.id,
                    "ssh_public_key": w.environment.ssh_public_key,
                    "ssh_private_key_encrypted": w.environment.ssh_private_key_encrypted,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(rows)
            ],
        )
        base = {"environment_id": w.environment.id, "project_id": w.project.id,
                "created_by": w.owner.id}
        servers = [perf_world._server(base, w.credential.id) for _ in range(targets - 1)]
        db.add_all(servers)
        await db.flush()
        action, _ = await perf_world._action(db, w, [w.server, *servers], steps=3)
        await db.commit()
        paths = {
            "environments list, per_page=20": f"/projects/{w.project.id}/environments?per_page=20",
            "GET /projects/{id}": f"/projects/{w.project.id}",
            "GET /servers/{id}": f"/servers/{w.server.id}",
            "GET /applications/{id}": f"/applications/{w.application.id}",
            f"GET /actions/{{id}} ({targets} targets)": f"/actions/{action.id}",
            "GET /users/me": "/users/me",
        }
        token = w.token
        # As autovacuum would soon after such a bulk insert: plans fit the data.
        await db.execute(text("ANALYZE"))
        await db.commit()
    await database.dispose()
    return Seeded(token, paths)


# ---------------------------------------------------------------- serving


class Server:
    def __init__(self, command: list[str], env: dict[str, str], cwd: Path = ROOT) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, cwd=str(cwd), start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait(self) -> None:
        deadline = time.monotonic() + 300  # a busy shared machine imports slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server on {self.base} exited")
            try:
                httpx.get(self.base + "/openapi.json", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"server on {self.base} did not start")

    def cpu_seconds(self) -> float:
        """CPU used so far by the server's processes (its session: supervisor and workers)."""
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == self.process.pid:  # session id = the leader's pid
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        # uvicorn --workers runs a supervisor and its children: end the session's group.
        try:
            os.killpg(self.process.pid, 15)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()


def serve_command(workers: int, root: Path = ROOT) -> list[str]:
    # A baseline checkout may predate the launcher package: its command line was app.cli.
    module = "launcher.cli" if (root / "launcher" / "cli.py").exists() else "app.cli"
    return [sys.executable, "-c", f"from {module} import main; main()", "serve",
            "--workers", str(workers), "--no-migrate"]


def floor_command(workers: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "api:bare_app", "--factory", "--app-dir",
            str(ROOT / "benchmarks"), "--workers", str(workers), "--log-level", "warning",
            "--no-access-log"]


# ---------------------------------------------------------------- load


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    # CPU of the serving processes per request: steadier than req/s on a shared machine.
    cpu_ms: float = 0.0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    found = re.fullmatch(r"([\d.]+)([a-z]+)", value)
    assert found is not None, value
    number, unit = found.groups()
    return float(number) * _UNITS[unit]


def settle(window: float = 0.2, quiet: float = 0.25, limit: float = 10.0) -> None:
    """Wait until the machine is quiet (under a quarter of one core busy over `window`).

    When wrk stops, the server it measured still answers the requests already read (a
    slow server has 32 in its queue: a second of work for the baseline's action); the next
    run, on another server, would start on cores that are still busy, and its first
    requests' latency would be that server's, not its own. Each run starts once that work
    is done."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = machine_cpu()
        time.sleep(window)
        if machine_cpu() - before < quiet * window:
            return


def run_wrk(url: str, headers: dict[str, str], connections: int, duration: float,
            server: Server | None = None) -> Result:
    settle()
    cpu_before = server.cpu_seconds() if server is not None else 0.0
    args = ["wrk", "-t", "2", "-c", str(connections), "--timeout", "30s",
            "-d", f"{max(1, round(duration))}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(found.group(1))
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                          out):
        errors += sum(int(g) for g in found.groups())
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu_ms = ((server.cpu_seconds() - cpu_before) * 1000 / max(1, requests)
              if server is not None else 0.0)
    return Result(rps, p50, p99, errors, cpu_ms)


async def _client_load(url: str, headers: dict[str, str], total: int, concurrency: int
                       ) -> Result:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        for _ in range(min(20, total)):  # warm-up: connections
            (await client.get(url)).raise_for_status()
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
        rps=len(latencies) / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        errors=errors,
    )


def run_client(url: str, headers: dict[str, str], connections: int, total: int) -> Result:
    return asyncio.run(_client_load(url, headers, total, connections))


# ---------------------------------------------------------------- report


def median_result(results: list[Result]) -> Result:
    return Result(
        statistics.median(r.rps for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.errors for r in results),
        statistics.median(r.cpu_ms for r in results),
    )


Rows = list[tuple[str, int, Result, Result, list[float]]]


def _ratio_cell(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f} to {max(ratios):.2f})"


def _print_markdown(title: str, columns: list[str], lines: list[list[str]]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * (len(columns) - 1))
    for cells in lines:
        print("| " + " | ".join(cells) + " |", flush=True)


def print_baseline_table(title: str, rows: Rows) -> None:
    _print_markdown(title, [
        "endpoint", "workers", "req/s", "p99 ms", "CPU ms/req", "baseline req/s",
        "baseline p99 ms", "baseline CPU ms/req", "server/baseline req/s (range)",
        "baseline/server CPU", "errors",
    ], [
        [label, str(workers), f"{app.rps:.0f}", f"{app.p99_ms:.1f}", f"{app.cpu_ms:.2f}",
         f"{base.rps:.0f}", f"{base.p99_ms:.1f}", f"{base.cpu_ms:.2f}", _ratio_cell(ratios),
         f"{base.cpu_ms / app.cpu_ms:.2f}" if app.cpu_ms else "n/a",
         f"{app.errors}/{base.errors}"]
        for label, workers, app, base, ratios in rows
    ])


def print_table(title: str, rows: Rows) -> None:
    _print_markdown(title, [
        "endpoint", "workers", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "floor req/s",
        "floor p50 ms", "floor p99 ms", "floor CPU ms/req", "server/floor req/s (range)",
        "errors",
    ], [
        [label, str(workers), f"{app.rps:.0f}", f"{app.p50_ms:.1f}", f"{app.p99_ms:.1f}",
         f"{app.cpu_ms:.2f}" if app.cpu_ms else "n/a", f"{floor.rps:.0f}",
         f"{floor.p50_ms:.1f}", f"{floor.p99_ms:.1f}",
         f"{floor.cpu_ms:.2f}" if floor.cpu_ms else "n/a", _ratio_cell(ratios),
         f"{app.errors}/{floor.errors}"]
        for label, workers, app, floor, ratios in rows
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                  DEFAULT_URL),
                        help="PostgreSQL database of its own: it is reset")
    parser.add_argument("--rows", type=int, default=1000, help="environments to seed")
    parser.add_argument("--targets", type=int, default=100, help="targets of the action")
    parser.add_argument("--workers", default="1,2", help="API worker counts")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client-requests", type=int, default=1000,
                        help="requests per Python-client run (0: wrk only)")
    parser.add_argument("--only", default="", help="comma-separated substrings of endpoints")
    parser.add_argument("--pool-size", type=int, default=8,
                        help="DATABASE_POOL_SIZE of every server (each worker may hold twice "
                             "as many connections): the server, the floor and the baseline "
                             "run side by side on one PostgreSQL, whose max_connections "
                             "(100 by default) must hold all of them at their peak")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout of the server (say, a git worktree of the "
                             "commit to compare with), served from the same database and "
                             "measured with wrk in the same rounds")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")

    url = args.database_url
    reset_database(url)
    settings = Settings(database_url=url, secret_key=SECRET_KEY, _env_file=None)
    migrations.upgrade(settings)
    seeded = asyncio.run(seed(settings, args.rows, args.targets))
    endpoints = {label: path for label, path in seeded.paths.items()
                 if not args.only or any(o in label for o in args.only.split(","))}
    headers = {"Authorization": f"Bearer {seeded.token}", "Accept": "application/json"}
    work = Path(tempfile.mkdtemp(prefix="dvp-api-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        # One client hammering one token is what the rate limiter exists to stop;
        # the benchmark measures the work behind it.
        "RATE_LIMIT_ENABLED": "false",
        "DATABASE_POOL_SIZE": str(args.pool_size),
        "PYTHONPATH": str(ROOT),
        BODIES_ENV: str(work / "bodies.json"),
    }
    env.pop("REDIS_URL", None)
    wrk_rows: Rows = []
    baseline_rows: Rows = []
    baseline_env = None
    if args.baseline is not None:
        # Its own code first on the path (this checkout is installed in editable mode).
        baseline_env = {**env, "PYTHONPATH": str(args.baseline.resolve())}
    client_rows: Rows = []
    try:
        for workers in [int(w) for w in args.workers.split(",")]:
            app_server = Server(serve_command(workers), env)
            servers = [app_server]
            try:
                app_server.wait()
                bodies = {}
                for path in endpoints.values():
                    r = httpx.get(app_server.base + path, headers=headers, timeout=30)
                    r.raise_for_status()
                    bodies[path] = r.text
                import json

                (work / "bodies.json").write_text(json.dumps(bodies))
                floor_server = Server(floor_command(workers), env)
                servers.append(floor_server)
                floor_server.wait()
                baseline_server = None
                if baseline_env is not None:
                    baseline_server = Server(serve_command(workers, args.baseline),
                                             baseline_env, args.baseline)
                    servers.append(baseline_server)
                    baseline_server.wait()
                    for path in endpoints.values():
                        httpx.get(baseline_server.base + path, headers=headers,
                                  timeout=30).raise_for_status()
                # Warm-up: every worker process, its pool and statement caches.
                for path in endpoints.values():
                    run_wrk(app_server.base + path, headers, args.connections, 1)
                    run_wrk(floor_server.base + path, headers, args.connections, 1)
                    if baseline_server is not None:
                        run_wrk(baseline_server.base + path, headers, args.connections, 1)
                baseline_w: dict[str, list[Result]] = {label: [] for label in endpoints}
                measured: dict[str, tuple[list[Result], list[Result], list[Result],
                                          list[Result]]] = {
                    label: ([], [], [], []) for label in endpoints
                }
                for round_ in range(args.rounds):
                    for label, path in endpoints.items():
                        app_w, floor_w, app_c, floor_c = measured[label]
                        app_w.append(run_wrk(app_server.base + path, headers,
                                             args.connections, args.duration, app_server))
                        floor_w.append(run_wrk(floor_server.base + path, headers,
                                               args.connections, args.duration, floor_server))
                        if baseline_server is not None:
                            baseline_w[label].append(run_wrk(
                                baseline_server.base + path, headers, args.connections,
                                args.duration, baseline_server))
                        if args.client_requests:
                            app_c.append(run_client(app_server.base + path, headers,
                                                    args.connections, args.client_requests))
                            floor_c.append(run_client(floor_server.base + path, headers,
                                                      args.connections,
                                                      args.client_requests))
                        print(f"workers={workers} round {round_ + 1} {label}: "
                              f"{app_w[-1].rps:.0f} req/s p99 {app_w[-1].p99_ms:.0f} ms "
                              f"{app_w[-1].cpu_ms:.2f} CPU ms/req "
                              f"(floor {floor_w[-1].rps:.0f}, {floor_w[-1].cpu_ms:.2f})"
                              + (f" (baseline {baseline_w[label][-1].rps:.0f}, "
                                 f"{baseline_w[label][-1].cpu_ms:.2f})"
                                 if baseline_w[label] else ""),
                              file=sys.stderr, flush=True)
                for label, (app_w, floor_w, app_c, floor_c) in measured.items():
                    wrk_rows.append((label, workers, median_result(app_w),
                                     median_result(floor_w),
                                     [a.rps / f.rps for a, f in zip(app_w, floor_w, strict=True)]))
                    if baseline_w[label]:
                        baseline_rows.append((label, workers, median_result(app_w),
                                              median_result(baseline_w[label]),
                                              [a.rps / b.rps for a, b
                                               in zip(app_w, baseline_w[label], strict=True)]))
                    if app_c:
                        client_rows.append((label, workers, median_result(app_c),
                                            median_result(floor_c),
                                            [a.rps / f.rps for a, f
                                             in zip(app_c, floor_c, strict=True)]))
            finally:
                for server in servers:
                    server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(f"wrk, {args.connections} connections, {args.duration:g} s per run, median of "
                f"{args.rounds} rounds ({args.rows} environments, PostgreSQL, DATABASE_POOL_SIZE="
                f"{args.pool_size})", wrk_rows)
    if baseline_rows:
        print_baseline_table(f"wrk against the baseline ({args.baseline}), same rounds",
                             baseline_rows)
    if client_rows:
        print_table(f"Python client (httpx), {args.connections} concurrent requests, "
                    f"{args.client_requests} per run, median of {args.rounds} rounds",
                    client_rows)
    failed = [f"{label} ({workers} workers): {app.errors}"
              for label, workers, app, _, _ in [*wrk_rows, *client_rows] if app.errors]
    if failed:
        # A server that answers errors fast is not fast: the run does not count.
        sys.exit("the server answered errors (non-2xx or socket errors), so the numbers "
                 "above do not count: " + "; ".join(failed))


if __name__ == "__main__":
    main()

"""Fan-out benchmark: one action of shell steps on N servers, through the API as users run it.

    python benchmarks/fanout.py [--sizes 100,500,2000] [--embedded-sizes 100] [--repeat K]

Needs root (the servers' login user is an OS user), OpenSSH's sshd, redis-server and a
PostgreSQL database it may drop and re-create (default
postgresql+psycopg://postgres@127.0.0.1:5432/test_fanout, or BENCH_DATABASE_URL /
--database-url); ansible-core only for --ansible.

The servers: one loopback sshd started by the benchmark (MaxStartups raised above the
largest burst), and N self-hosted server records, each created with
`POST /environments/{id}/servers` and connected by running its connect command
(`GET /servers/{id}/commands`) in a shell of the login user, which provisions it. The
action: a daemon linked to the N servers (`/resource-links`), a pipeline of its own with
the shell steps (`POST /pipelines/daemon/{id}`,
`POST /pipelines/{id}/steps`), run with `POST /pipelines/{id}/actions` and read with
`GET /actions/{id}?wait=` until it completes. Nothing from tests/ is loaded by the
measured processes, and no engine plugin.

Two controllers, each measured against the floor in the same run:

- production (`--sizes`): `devopness-server serve` on PostgreSQL, Redis as the broker
  (a redis-server of its own, append-only file on) and two `devopness-server worker`
  processes. Its CPU is the API's, the workers' (main and pool processes), Redis's and
  that of the PostgreSQL backends connected to the benchmark's database, read from
  /proc/<pid>/stat while the action runs; its peak connections are pg_stat_activity's
  count for that database, sampled every 0.2 s.
- embedded (`--embedded-sizes`): `devopness-server serve` alone on SQLite (API and
  in-process runner in one process); its CPU is that process's.

The floor: a bare asyncssh script running the same commands on the same targets (the same
sshd and login user), one connection per target, asyncssh's defaults. At N < 500 it opens
every connection at once; from N = 500 up at most as many at once as the workers may
(workers x pool processes x WORKER_MAX_PARALLEL_TARGETS), and, where that differs, also
at most as many as one engine process may (WORKER_MAX_PARALLEL_TARGETS): an action runs
in one worker process. The embedded rows also show the floor offering the engine's ciphers
(AES-GCM first), and Ansible (forks = N, pipelining, ControlPersist) with --ansible.

Per N: wall time from the request to the completed action and its ratio to the floor
(target <= 1.25x), the controller's CPU against the floor's (target <= 2x), a target's own
run time (its SSH session's start to its last step's end: median and p95; it should stay
flat from 100 to 2,000), the wall time per target, and the peak of PostgreSQL connections
against the pool settings (DATABASE_POOL_SIZE per process, plus as many overflow); for
production also the POST's time, the dispatch and plan phases, and PostgreSQL's
transactions and rows read per target (pg_stat_database, the idle workers' background
taken out). Progress and per-run details go to stderr, the tables to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncssh
import httpx

# This checkout's app (the settings' defaults) and the benchmark's own helpers.
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from controllers import (  # noqa: E402
    ENGINE_CIPHERS,
    POOL_SIZE,
    SESSIONS_PER_PROCESS,
    Controller,
    controller_of,
    start_embedded,
    start_production,
)
from loopback import (  # noqa: E402
    STATS_DELAY,
    OSUser,
    Processes,
    Reading,
    bench_user,
    ok,
    pg_counters,
    start_sshd,
    table_counters,
    wait_action,
)

BOUNDED_FROM = 500  # the floor opens at most the workers' sessions from this N up

STEPS = [
    "echo step-1; hostname",
    "echo step-2; uname -a",
    "echo step-3; date +%s",
    "echo step-4; ls / | wc -l",
    "echo step-5; id -un",
]


# ---- through the API, as a user ------------------------------------------------------




@dataclass
class Fleet:
    """The user's environment, its connected servers and the daemon they run."""

    environment_id: int
    daemon_id: int
    pipeline_id: int
    servers: list[int] = field(default_factory=list)
    linked: int = 0


def create_fleet(http: httpx.Client, steps: int) -> Fleet:
    org = ok(http.post("/organizations", json={"name": "Fan-out benchmark"}))
    project = ok(http.post(f"/organizations/{org['id']}/projects", json={"name": "Fan-out"}))
    environment = ok(http.post(f"/projects/{project['id']}/environments",
                               json={"type": "production", "name": "fleet"}))
    daemon = ok(http.post(f"/environments/{environment['id']}/daemons", json={
        "name": "fanout", "command": "sleep infinity", "process_count": 1,
        "working_directory": None, "run_as_user": "root"}))
    pipeline = ok(http.post(f"/pipelines/daemon/{daemon['id']}",
                            json={"name": "Fan-out commands", "operation": "get_status"}))
    for command in STEPS[:steps]:
        ok(http.post(f"/pipelines/{pipeline['id']}/steps", json={
            "name": command.split(";")[0][5:], "command": command, "runner": "custom"}))
    return Fleet(environment["id"], daemon["id"], pipeline["id"])


def connect_servers(http: httpx.Client, fleet: Fleet, user: OSUser, sshd_port: int,
                    count: int) -> None:
    """Add servers until the fleet has `count`, connect each by running its connect command
    as the login user (its callback starts the provision action), wait for every provision,
    then link the daemon to the first `count` servers."""
    new = []
    for i in range(len(fleet.servers), count):
        server = ok(http.post(f"/environments/{fleet.environment_id}/servers", json={
            "hostname": f"bench-{i + 1}", "ip_address": "127.0.0.1", "ssh_port": sshd_port,
            "ssh_user": user.name,
            "provision_input": {"cloud_service_code": "self-hosted-custom",
                                "settings": {"os_version_code": "ubuntu_24_04"}},
        }))
        new.append(server["id"])
    commands = [ok(http.get(f"/servers/{i}/commands"))["connect_command"] for i in new]

    def paste(command: str) -> None:
        result = user.run(command)
        if result.returncode != 0:
            raise RuntimeError(f"connect command failed: {result.stdout}{result.stderr}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(paste, commands))
    for server_id in new:
        [latest, *_] = ok(http.get(f"/actions/server/{server_id}"))
        action = wait_action(http, latest["id"])
        if action["status"] != "completed":
            raise RuntimeError(f"provisioning server {server_id}: "
                               f"{action['status_reason_human_readable']}")
    fleet.servers += new
    for server_id in fleet.servers[fleet.linked:count]:
        ok(http.post(f"/resource-links/daemon/{fleet.daemon_id}/server/{server_id}/link"))
    fleet.linked = count


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Run:
    wall: float
    accepted: float  # the POST's response time (the action, its targets and steps written)
    reading: Reading
    target_p50: float
    target_p95: float
    connect_p50: float
    connect_max: float
    claimed: float  # action created to claimed by an engine process (dispatch)
    prepared: float  # claimed to its first target started (the targets' plans)


def run_action(http: httpx.Client, controller: Controller, fleet: Fleet, n: int) -> Run:
    with controller.meter() as meter:
        started = time.perf_counter()
        response = http.post(f"/pipelines/{fleet.pipeline_id}/actions", json={})
        ok(response)
        accepted = time.perf_counter() - started
        action = wait_action(http, int(response.headers["X-Devopness-Action-Id"]))
        wall = time.perf_counter() - started
    if action["status"] != "completed":
        raise RuntimeError(f"action failed: {action['status_reason_human_readable']}")
    if len(action["targets"]) != n:
        raise RuntimeError(f"{len(action['targets'])} targets, expected {n}")
    # A target's own run: from when its engine process gave it an SSH session (targets
    # beyond the bounded pool queue) to its last step's end.
    durations = sorted((_ts(t["completed_at"]) - _ts(t["started_at"])).total_seconds()
                       for t in action["targets"])
    p95 = statistics.quantiles(durations, n=20)[-1] if n > 1 else durations[0]
    # Of which connecting: from the target's start to its first step's (the SSH handshake
    # and whatever the engine process does meanwhile).
    connects = [(min(_ts(s["started_at"]) for s in t["steps"]) - _ts(t["started_at"]))
                .total_seconds() for t in action["targets"]]
    first = min(_ts(t["started_at"]) for t in action["targets"])
    claimed = _ts(action["started_at"])
    return Run(wall, accepted, meter.reading, statistics.median(durations), p95,
               statistics.median(connects), max(connects),
               (claimed - _ts(action["created_at"])).total_seconds(),
               (first - claimed).total_seconds())


# ---- the floor: bare asyncssh ---------------------------------------------------------


async def _floor(n: int, port: int, key: asyncssh.SSHKey, user: str, limit: int | None,
                 ciphers: list[str] | None, steps: list[str]) -> float:
    options = {"encryption_algs": ciphers} if ciphers else {}
    gate = asyncio.Semaphore(limit or n)

    async def one() -> None:
        async with gate, asyncssh.connect(
            "127.0.0.1", port, username=user, client_keys=[key], known_hosts=None,
            agent_path=None, config=[], **options,
        ) as conn:
            for command in steps:
                result = await conn.run(command, check=True)
                assert result.stdout

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - started


@dataclass
class Floor:
    wall: float
    cpu: float


def floor(n: int, port: int, key: asyncssh.SSHKey, user: str, steps: list[str],
          limit: int | None = None, ciphers: list[str] | None = None) -> Floor:
    cpu = time.process_time()
    wall = asyncio.run(_floor(n, port, key, user, limit, ciphers, steps))
    return Floor(wall, time.process_time() - cpu)


def run_ansible(n: int, port: int, key_file: Path, user: str, work: Path, steps: list[str]
                ) -> Floor:
    inventory = work / f"inventory-{n}.ini"
    inventory.write_text("[targets]\n" + "".join(
        f"t{i} ansible_host=127.0.0.1 ansible_port={port} ansible_user={user} "
        f"ansible_ssh_private_key_file={key_file} ansible_python_interpreter=/usr/bin/python3 "
        f"ansible_ssh_common_args='-o ControlMaster=auto -o ControlPersist=60s "
        f"-o ControlPath={work}/cp-%C-t{i} -o StrictHostKeyChecking=no "
        f"-o UserKnownHostsFile=/dev/null'\n" for i in range(n)))
    playbook = work / "play.yml"
    playbook.write_text("- hosts: targets\n  gather_facts: false\n  tasks:\n"
                        + "".join(f"    - shell: {json.dumps(c)}\n" for c in steps))
    env = {**os.environ, "ANSIBLE_PIPELINING": "True", "ANSIBLE_HOST_KEY_CHECKING": "False"}
    before = os.times()
    started = time.perf_counter()
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), "-f", str(n),
                             str(playbook)], env=env, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ansible-playbook failed:\n{result.stdout.decode()[-3000:]}")
    wall = time.perf_counter() - started
    after = os.times()
    return Floor(wall, (after.children_user - before.children_user)
                 + (after.children_system - before.children_system))


# ---- one controller over its sizes ----------------------------------------------------


@dataclass
class Row:
    n: int
    run: Run
    floor: Floor
    # Production from BOUNDED_FROM up: the floor bounded to one engine process's sessions.
    process_floor: Floor | None = None
    cipher_floor: Floor | None = None  # embedded: the floor offering the engine's ciphers
    ansible: Floor | None = None
    # Production: pg_stat_database counts over the action and its floors.
    database: dict[str, int] = field(default_factory=dict)


@dataclass
class Bench:
    args: argparse.Namespace
    work: Path
    user: OSUser
    sshd_port: int
    floor_key: asyncssh.SSHKey
    key_file: Path
    ansible_done: list[Row] = field(default_factory=list)
    # PostgreSQL counts per second of an idle controller (the workers' sweeps), taken out
    # of each action's counts.
    idle: dict[str, float] = field(default_factory=dict)

    @property
    def steps(self) -> list[str]:
        return STEPS[: self.args.steps]

    def measure(self, controller: Controller, sizes: list[int]) -> list[Row]:
        headers = {"Authorization": f"Bearer {controller.token}", "Accept": "application/json"}
        rows: list[Row] = []
        with httpx.Client(base_url=controller.url, headers=headers, timeout=900) as http:
            fleet = create_fleet(http, self.args.steps)
            for n in sizes:
                began = time.perf_counter()
                connect_servers(http, fleet, self.user, self.sshd_port, n)
                log(f"{controller.mode} N={n}: {n} servers connected and provisioned "
                    f"({time.perf_counter() - began:.0f} s)")
                # Warm-up, not measured: the first action (imports, pools, prepared paths).
                if not rows:
                    run_action(http, controller, fleet, n)
                    if controller.pg_dsn:
                        self.idle = idle_rates(controller.pg_dsn, controller.database or "")
                for _ in range(self.args.repeat):
                    rows.append(self.measure_one(http, controller, fleet, n))
        return rows

    def measure_one(self, http: httpx.Client, controller: Controller, fleet: Fleet, n: int
                    ) -> Row:
        dsn, database = controller.pg_dsn, controller.database or ""
        if dsn:
            time.sleep(STATS_DELAY)  # what came before is counted before the action
            tables = table_counters(controller.database_dsn or "")
            time.sleep(1)  # that connection's own reads published as it exits
            before = pg_counters(dsn, database)
            since = time.monotonic()
        run = run_action(http, controller, fleet, n)
        ended = time.monotonic()
        bounded = n >= BOUNDED_FROM
        row = Row(n, run, self.floor(n, controller.sessions if bounded else None))
        if bounded and controller.sessions != SESSIONS_PER_PROCESS:
            row.process_floor = self.floor(n, SESSIONS_PER_PROCESS)
        if controller.mode == "embedded":
            row.cipher_floor = self.floor(n, None, ENGINE_CIPHERS)
            if self.args.ansible and not any(r.n == n for r in self.ansible_done):
                row.ansible = run_ansible(n, self.sshd_port, self.key_file, self.user.name,
                                          self.work, self.steps)
                self.ansible_done.append(row)
        if dsn:
            time.sleep(max(0.0, STATS_DELAY - (time.monotonic() - ended)))
            after = pg_counters(dsn, database)
            idle = time.monotonic() - since
            row.database = {k: max(0, round(v - before[k] - self.idle.get(k, 0.0) * idle))
                            for k, v in after.items()}
            tables = {k: v - tables.get(k, 0)
                      for k, v in table_counters(controller.database_dsn or "").items()}
        log(f"{controller.mode} N={n}: {run.wall:.2f}s (floor {row.floor.wall:.2f}s), CPU "
            f"{run.reading.total:.2f}s (floor {row.floor.cpu:.2f}s) "
            f"{ {k: round(v, 2) for k, v in run.reading.cpu.items()} }, POST answered after "
            f"{run.accepted:.2f}s, claimed after "
            f"{run.claimed:.2f}s, first target {run.prepared:.2f}s later, target p50 "
            f"{run.target_p50:.3f}s p95 {run.target_p95:.3f}s, of which connecting p50 "
            f"{run.connect_p50:.3f}s max {run.connect_max:.3f}s")
        if dsn:
            log(f"  PostgreSQL: peak {run.reading.peak_connections} connections; idle "
                "background taken out: "
                + ", ".join(f"{k} {v}" for k, v in row.database.items()))
            most = sorted(((v, k) for k, v in tables.items() if v), reverse=True)[:8]
            log("  rows read (idle background included): "
                + ", ".join(f"{k} {v}" for v, k in most))
        return row

    def floor(self, n: int, limit: int | None, ciphers: list[str] | None = None) -> Floor:
        return floor(n, self.sshd_port, self.floor_key, self.user.name, self.steps, limit,
                     ciphers)


def idle_rates(dsn: str, database: str, seconds: float = 30.0) -> dict[str, float]:
    time.sleep(STATS_DELAY)
    before = pg_counters(dsn, database)
    time.sleep(seconds)
    after = pg_counters(dsn, database)
    rates = {k: (v - before[k]) / seconds for k, v in after.items()}
    log("  PostgreSQL while idle, per second: "
        + ", ".join(f"{k} {v:.1f}" for k, v in rates.items()))
    return rates


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- report ---------------------------------------------------------------------------


def cell(values: list[float], unit: str = "", digits: int = 2) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}{unit}"
    return (f"{statistics.median(values):.{digits}f}{unit} "
            f"({min(values):.{digits}f} to {max(values):.{digits}f})")


def ratio(runs: list[Row], floors: list[Floor], of: Callable[[Row, Floor], float]) -> str:
    if not floors:
        return "n/a"
    return cell([of(r, f) for r, f in zip(runs, floors, strict=True)], "x")


def reads(counters: dict[str, int]) -> int:
    return counters["rows returned"] + counters["rows fetched"]


def by_size(rows: list[Row]) -> Iterator[tuple[int, list[Row]]]:
    for n in sorted({r.n for r in rows}):
        yield n, [r for r in rows if r.n == n]


def print_production(rows: list[Row], controller: Controller) -> None:
    bound = POOL_SIZE * controller.processes
    workers = [k for k in controller.components if k.startswith("worker")]
    print(f"\nProduction: API + Redis + {len(workers)} workers "
          f"on PostgreSQL; the floor opens at most {controller.sessions} sessions at once "
          f"from N = {BOUNDED_FROM} up. Median (range) over the runs of each size.\n")
    print("| N | wall (s) | floor wall (s) | wall / floor | controller CPU (s) | API / workers "
          "/ Redis / PostgreSQL CPU (s) | floor CPU (s) | CPU / floor | target run p50 / p95 "
          f"(s) | wall per target (ms) | peak PostgreSQL connections (pool {bound}, "
          f"with overflow {2 * bound}) | POST answered / claimed / first target after (s) "
          "| PostgreSQL transactions per target | rows read per target "
          f"| floor at {SESSIONS_PER_PROCESS} sessions (s) | wall / it |")
    print("|---:" * 16 + "|")
    for n, runs in by_size(rows):
        parts = " / ".join(
            f"{statistics.median(sum(r.run.reading.cpu.get(k, 0.0) for k in ks) for r in runs):.2f}"
            for ks in (["api"], workers, ["redis"], ["postgresql"]))
        process = [r.process_floor for r in runs if r.process_floor]
        print(
            f"| {n} | {cell([r.run.wall for r in runs])} | {cell([r.floor.wall for r in runs])} "
            f"| {cell([r.run.wall / r.floor.wall for r in runs], 'x')} "
            f"| {cell([r.run.reading.total for r in runs])} | {parts} "
            f"| {cell([r.floor.cpu for r in runs])} "
            f"| {cell([r.run.reading.total / max(r.floor.cpu, 0.01) for r in runs], 'x')} "
            f"| {cell([r.run.target_p50 for r in runs], digits=3)} / "
            f"{cell([r.run.target_p95 for r in runs], digits=3)} "
            f"| {cell([1000 * r.run.wall / n for r in runs], digits=1)} "
            f"| {max(r.run.reading.peak_connections for r in runs)} "
            f"| {cell([r.run.accepted for r in runs])} / {cell([r.run.claimed for r in runs])} "
            f"/ {cell([r.run.prepared for r in runs])} "
            f"| {cell([r.database['transactions'] / n for r in runs], digits=1)} "
            f"| {cell([reads(r.database) / n for r in runs], digits=0)} "
            f"| {cell([f.wall for f in process]) if process else 'n/a'} "
            f"| {ratio(runs, process, lambda r, f: r.run.wall / f.wall)} |")


def print_embedded(rows: list[Row]) -> None:
    print("\nEmbedded: one `devopness-server serve` on SQLite (API + in-process runner). "
          "Median (range) over the runs of each size.\n")
    print("| N | wall (s) | CPU (s) | target run p50 / p95 (s) | floor wall (s) | floor CPU (s) "
          "| wall / floor | CPU / floor | same-cipher floor wall (s) | its CPU (s) | wall / it "
          "| CPU / it | ansible wall (s) | ansible CPU (s) |")
    print("|---:" * 14 + "|")
    for n, runs in by_size(rows):
        ciphers = [r.cipher_floor for r in runs if r.cipher_floor]
        ansible = [r.ansible for r in runs if r.ansible]
        print(
            f"| {n} | {cell([r.run.wall for r in runs])} "
            f"| {cell([r.run.reading.total for r in runs])} "
            f"| {cell([r.run.target_p50 for r in runs], digits=3)} / "
            f"{cell([r.run.target_p95 for r in runs], digits=3)} "
            f"| {cell([r.floor.wall for r in runs])} | {cell([r.floor.cpu for r in runs])} "
            f"| {cell([r.run.wall / r.floor.wall for r in runs], 'x')} "
            f"| {cell([r.run.reading.total / max(r.floor.cpu, 0.01) for r in runs], 'x')} "
            f"| {cell([f.wall for f in ciphers])} | {cell([f.cpu for f in ciphers])} "
            f"| {ratio(runs, ciphers, lambda r, f: r.run.wall / f.wall)} "
            f"| {ratio(runs, ciphers, lambda r, f: r.run.reading.total / max(f.cpu, 0.01))} "
            f"| {cell([a.wall for a in ansible]) if ansible else 'n/a'} "
            f"| {cell([a.cpu for a in ansible]) if ansible else 'n/a'} |")


# ---- main -----------------------------------------------------------------------------


def sizes(text: str) -> list[int]:
    return sorted({int(s) for s in text.split(",") if s.strip()})


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=sizes, default=sizes("100,500,2000"),
                        help="N for the production controller ('' to skip it)")
    parser.add_argument("--embedded-sizes", type=sizes, default=sizes("100"),
                        help="N for the embedded controller ('' to skip it)")
    parser.add_argument("--repeat", type=int, default=1, help="measured actions per size")
    parser.add_argument("--steps", type=int, default=len(STEPS), choices=range(1, 6),
                        help="shell steps per target")
    parser.add_argument("--workers", type=int, default=2, help="devopness-server worker processes")
    parser.add_argument("--worker-concurrency", type=int, default=1,
                        help="pool processes per worker (worker --concurrency)")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_fanout"),
        help="PostgreSQL database for the production controller (dropped and re-created)")
    parser.add_argument("--ansible", action="store_true",
                        help="also run ansible-playbook at each embedded size")
    parser.add_argument("--user", default="dvpfanout", help="the servers' OS login user")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    if args.ansible and not shutil.which("ansible-playbook"):
        sys.exit("--ansible: ansible-playbook not found")

    user = bench_user(args.user)
    work = Path(tempfile.mkdtemp(prefix="dvp-fanout-"))
    work.chmod(0o755)
    processes = Processes()
    floor_key = asyncssh.generate_private_key("ssh-ed25519")
    user.authorize(floor_key.export_public_key("openssh").decode())
    key_file = work / "floor_ed25519"
    key_file.write_bytes(floor_key.export_private_key())
    key_file.chmod(0o600)
    try:
        largest = max([*args.sizes, *args.embedded_sizes, 1])
        port = start_sshd(processes, work, largest)
        bench = Bench(args, work, user, port, floor_key, key_file)
        if args.embedded_sizes:
            with controller_of(processes, lambda: start_embedded(processes, work)) as embedded:
                embedded_rows = bench.measure(embedded, args.embedded_sizes)
            print_embedded(embedded_rows)
        if args.sizes:
            with controller_of(processes, lambda: start_production(
                    processes, work, args.database_url, args.workers,
                    args.worker_concurrency)) as production:
                production_rows = bench.measure(production, args.sizes)
            print_production(production_rows, production)
    finally:
        processes.stop_all()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

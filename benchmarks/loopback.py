"""The machines and meters of the fan-out benchmark, with nothing from tests/: a loopback
OpenSSH sshd sized for thousands of connections, the OS user the servers log in as, the
controller's processes started as the README starts them, and a sampler of their CPU
(/proc/<pid>/stat) and of PostgreSQL's connections (pg_stat_activity)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import httpx

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], what: str, seconds: float = 120
              ) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not open port {port} within {seconds:g} s")


def ok(response: httpx.Response) -> Any:
    """The JSON of a successful answer; an error answer stops the benchmark, saying why."""
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: "
                           f"{response.status_code} {response.text[:500]}")
    return response.json() if response.content else None


def wait_action(http: httpx.Client, action_id: int, wait: int = 120) -> dict[str, Any]:
    """The action once finished, read with the API's long poll (`?wait=`)."""
    while True:
        action: dict[str, Any] = ok(http.get(f"/actions/{action_id}", params={"wait": wait}))
        if action["status"] in ("completed", "failed"):
            return action


class Processes:
    """Everything the benchmark started, each in its own session so that its children
    (a Celery worker's pool) stop with it."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], env: dict[str, str], cwd: Path,
              log: Path | None = None) -> subprocess.Popen[bytes]:
        out = log.open("ab") if log else None
        process = subprocess.Popen(command, env=env, cwd=cwd, start_new_session=True,
                                   stdout=out, stderr=subprocess.STDOUT if out else None)
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        with contextlib.suppress(ValueError):
            self.started.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self.started)):
            self.stop(process)


# ---- the servers' side: one sshd, one OS user ----------------------------------------


def start_sshd(processes: Processes, work: Path, connections: int) -> int:
    """Key-only sshd on a free loopback port. Every target's connection may arrive at once:
    the unauthenticated-connection limit (MaxStartups, 10 by default, beyond which sshd
    drops connections at random) is raised above the largest burst."""
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    host_key = work / "sshd_host_ed25519"
    host_key.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    host_key.chmod(0o600)
    port = free_port()
    Path("/run/sshd").mkdir(exist_ok=True)
    config = work / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
        f"PidFile {work / 'sshd.pid'}", "AuthorizedKeysFile .ssh/authorized_keys",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes", "UsePAM no", "LogLevel ERROR", "UseDNS no",
        f"MaxStartups {connections + 50}", "MaxSessions 20",
    ]) + "\n")
    process = processes.start([binary, "-D", "-e", "-f", str(config)], os.environ.copy(), work,
                              work / "sshd.log")
    wait_port(port, process, "sshd")
    return port


@dataclass(frozen=True)
class OSUser:
    name: str
    home: Path

    def run(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`command` in a shell of this user, as the user would paste it."""
        return subprocess.run(["runuser", "-u", self.name, "--", "/bin/sh", "-c", command],
                              capture_output=True, text=True, cwd=self.home, timeout=timeout)

    def authorize(self, public_key: str) -> None:
        ssh = self.home / ".ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        keys = ssh / "authorized_keys"
        with keys.open("a") as f:
            f.write(public_key.strip() + "\n")
        keys.chmod(0o600)
        entry = pwd.getpwnam(self.name)
        for path in (ssh, keys):
            os.chown(path, entry.pw_uid, entry.pw_gid)


def bench_user(name: str) -> OSUser:
    """The login user of every loopback server, created once and kept. Its shell is
    /bin/sh, which reads no rc file for `sh -c`: a user's ~/.bashrc would be measured
    instead of the controller. Its authorized keys start empty on every run."""
    if os.geteuid() != 0:
        sys.exit("run as root: the servers' login user is created and switched to")
    home = Path("/var/tmp") / name
    try:
        pwd.getpwnam(name)
    except KeyError:
        print(f"creating OS user {name} (home {home}, shell /bin/sh)", file=sys.stderr)
        subprocess.run(["useradd", "-m", "-d", str(home), "-s", "/bin/sh", name], check=True)
    # No password, but not locked: sshd refuses locked accounts even for key logins.
    subprocess.run(["usermod", "-p", "*", name], check=True)
    (home / ".ssh").mkdir(mode=0o700, exist_ok=True)
    (home / ".ssh" / "authorized_keys").write_text("")
    entry = pwd.getpwnam(name)
    for path in (home, home / ".ssh", home / ".ssh" / "authorized_keys"):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return OSUser(name, home)


# ---- the meters ----------------------------------------------------------------------


def machine_cpu() -> float:
    """Seconds of CPU the whole machine has spent (every process: the API, sshd, git,
    bash, the floor's own client), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    # user nice system idle iowait irq softirq steal: all but idle and iowait are work.
    busy = [int(v) for i, v in enumerate(fields[:8]) if i not in (3, 4)]
    return sum(busy) / TICKS


def own_cpu(pid: int) -> float | None:
    """utime + stime of one process (its children are counted on their own), or None
    once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in task.read_text().split())
    return found


@dataclass
class Reading:
    cpu: dict[str, float] = field(default_factory=dict)
    peak_connections: int = 0
    samples: int = 0

    @property
    def total(self) -> float:
        return sum(self.cpu.values())


class Meter:
    """Samples, every `interval` seconds while running, the CPU of each component's
    process trees and of the PostgreSQL backends connected to `database` (their pids from
    pg_stat_activity), and the number of those backends. A process first seen while
    running started while running: all of its CPU counts; one that exits between two
    samples loses at most one interval's worth."""

    def __init__(self, components: Mapping[str, Iterable[int]], pg_dsn: str | None,
                 database: str | None, interval: float = 0.2) -> None:
        self.components = {name: list(pids) for name, pids in components.items()}
        self.pg_dsn, self.database, self.interval = pg_dsn, database, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._baseline: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self.reading = Reading()

    def _pids(self, cursor: object | None) -> dict[int, str]:
        pids: dict[int, str] = {}
        for name, roots in self.components.items():
            for root in roots:
                for pid in descendants(root):
                    pids.setdefault(pid, name)
        if cursor is not None:
            cursor.execute(  # type: ignore[attr-defined]
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> "
                "pg_backend_pid()", (self.database,))
            backends = [row[0] for row in cursor.fetchall()]  # type: ignore[attr-defined]
            self.reading.peak_connections = max(self.reading.peak_connections, len(backends))
            for pid in backends:
                pids.setdefault(pid, "postgresql")
        return pids

    def _sample(self, cursor: object | None, first: bool) -> None:
        for pid, name in self._pids(cursor).items():
            cpu = own_cpu(pid)
            if cpu is None:
                continue
            if first:
                self._baseline[pid] = cpu
            self._last[pid] = (name, cpu)
        self.reading.samples += 1

    def _loop(self, ready: threading.Event) -> None:
        connection = None
        if self.pg_dsn:
            import psycopg

            connection = psycopg.connect(self.pg_dsn, autocommit=True)
        try:
            cursor = connection.cursor() if connection else None
            self._sample(cursor, first=True)
            ready.set()
            while not self._stop.wait(self.interval):
                self._sample(cursor, first=False)
            self._sample(cursor, first=False)
        finally:
            ready.set()
            if connection is not None:
                connection.close()

    def __enter__(self) -> Meter:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(30)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(30)
        cpu: dict[str, float] = {name: 0.0 for name in self.components}
        if self.pg_dsn:
            cpu["postgresql"] = 0.0
        for pid, (name, value) in self._last.items():
            cpu[name] = cpu.get(name, 0.0) + value - self._baseline.get(pid, 0.0)
        self.reading.cpu = cpu


def pg_counters(dsn: str, database: str) -> dict[str, int]:
    """The database's cumulative statistics: transactions, rows read and written. Read
    through `dsn`, a connection to another database of the cluster, so that reading them
    adds nothing to them. PostgreSQL publishes a backend's counts within about a second of
    its transaction, at most 10 s later when the backend went idle: read them that long
    after the work."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback, tup_returned, tup_fetched, tup_inserted, "
            "tup_updated FROM pg_stat_database WHERE datname = %s", (database,)).fetchone()
    assert row is not None
    return dict(zip(("transactions", "rows returned", "rows fetched", "rows inserted",
                     "rows updated"), (int(v) for v in row), strict=True))


def table_counters(dsn: str) -> dict[str, int]:
    """Per table and index of the database at `dsn`, the rows read by sequential scans and
    by index scans: which query reads more as the tables grow. Reading them reads the
    catalog, which these views leave out but pg_stat_database counts: read them before
    `pg_counters` at the start of a window and after it at its end."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT relname, seq_tup_read FROM pg_stat_user_tables").fetchall()
        indexes = conn.execute(
            "SELECT indexrelname, idx_tup_read FROM pg_stat_user_indexes").fetchall()
    return {**{f"seq scan {t}": int(v) for t, v in tables},
            **{f"index {i}": int(v) for i, v in indexes}}


STATS_DELAY = 11.0  # seconds until every backend has published its counts (see above)

"""Fan-out benchmark: one action of 5 shell steps on N targets, against a loopback sshd.

    python benchmarks/fanout.py [--sizes 1,10,50,100] [--repeat K] [--no-ansible]

Each target is a distinct server record pointing at the same OpenSSH sshd on 127.0.0.1,
with its own SSH connection. Measured in the same run:

- devopness-server (embedded: API + in-process runner + SQLite in one uvicorn process):
  wall time from the POST that starts the action to the action completed (read with
  `?wait=`), the API process's CPU time, and the p95 of per-target durations;
- the floor: a bare asyncssh script running the same 5 commands per target concurrently,
  with asyncssh's defaults (the issue's baseline); and the same script offering the
  engine's ciphers (`SSH_ENCRYPTION_ALGS`, AES-GCM first), so that the engine's own
  overhead is visible apart from its cipher choice;
- `ansible-playbook` with forks = N, pipelining and ControlPersist (one control path per
  target), when it is installed.

Prints a markdown table (the first run of each size, Ansible included) and, with
`--repeat K`, a second one: median and range over K runs of the server and both floors
(each run measures all three back to back; a shared 2-core machine varies by +-10% from
one minute to the next, so one run proves little). Needs `sshd` (openssh-server);
ansible-core is optional.
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
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncssh
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.actions.ssh_servers import OpenSSHServer, free_port  # noqa: E402

STEPS = [
    "echo step-1; hostname",
    "echo step-2; uname -a",
    "echo step-3; date +%s",
    "echo step-4; ls / | wc -l",
    "echo step-5; id -un",
]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its waited-for children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / TICKS


# ---- the floor: bare asyncssh -------------------------------------------------------


async def bare_asyncssh(
    n: int, port: int, key: asyncssh.SSHKey, user: str, ciphers: list[str] | None
) -> float:
    options = {"encryption_algs": ciphers} if ciphers else {}

    async def one() -> None:
        async with asyncssh.connect(
            "127.0.0.1", port, username=user, client_keys=[key], known_hosts=None,
            agent_path=None, config=[], **options,
        ) as conn:
            for command in STEPS:
                result = await conn.run(command, check=True)
                assert result.stdout

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - started


def run_floor(
    n: int, port: int, key: asyncssh.SSHKey, user: str, ciphers: list[str] | None = None
) -> tuple[float, float]:
    cpu = time.process_time()
    wall = asyncio.run(bare_asyncssh(n, port, key, user, ciphers))
    return wall, time.process_time() - cpu


# ---- ansible ------------------------------------------------------------------------


def run_ansible(n: int, port: int, key_file: Path, user: str, work: Path) -> tuple[float, float]:
    inventory = work / f"inventory-{n}.ini"
    inventory.write_text(
        "[targets]\n"
        + "".join(
            f"t{i} ansible_host=127.0.0.1 ansible_port={port} ansible_user={user} "
            f"ansible_ssh_private_key_file={key_file} "
            "ansible_python_interpreter=/usr/bin/python3 "
            f"ansible_ssh_common_args='-o ControlMaster=auto -o ControlPersist=60s "
            f"-o ControlPath={work}/cp-%C-t{i} -o StrictHostKeyChecking=no "
            f"-o UserKnownHostsFile=/dev/null'\n"
            for i in range(n)
        )
    )
    playbook = work / "play.yml"
    playbook.write_text(
        "- hosts: targets\n  gather_facts: false\n  tasks:\n"
        + "".join(f"    - shell: {json.dumps(c)}\n" for c in STEPS)
    )
    env = {
        **os.environ,
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_FORKS": str(n),
    }
    before = os.times()
    started = time.perf_counter()
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "-f", str(n), str(playbook)],
        env=env, capture_output=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ansible-playbook failed:\n{result.stdout.decode()[-3000:]}")
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


# ---- devopness-server ---------------------------------------------------------------


async def setup_server_data(database_url: str, max_targets: int) -> tuple[str, int]:
    from app.actions.default_steps import ensure_default_pipelines
    from app.core.database import Database
    from app.core.settings import Settings
    from tests import factories

    settings = Settings(database_url=database_url, _env_file=None)  # type: ignore[call-arg]
    database = Database(settings)
    async with database.sessionmaker() as db:
        user, token = await factories.user_with_token(db)
        org = await factories.create_organization(db, user)
        project = await factories.create_project(db, user, organization=org)
        environment = await factories.create_environment(db, project)
        ids = []
        for n in sorted({1, 10, 50, 100, max_targets}):
            [pipeline] = await ensure_default_pipelines(
                db, "application", 10_000 + n, project_id=project.id,
                environment_id=environment.id, organization_id=org.id, created_by=user.id,
            )
            ids.append(pipeline.id)
        await db.commit()
    await database.dispose()
    return token, ids[0]


def start_api(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "launcher.api:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env={**env, "PUBLIC_URL": url},
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/users/me", timeout=1).status_code == 401:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the API did not start")
        time.sleep(0.1)


def _parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")


def run_server(
    http: httpx.Client, api_pid: int, pipeline_id: int, n: int
) -> tuple[float, float, float]:
    cpu = cpu_seconds(api_pid)
    started = time.perf_counter()
    response = http.post(f"/pipelines/{pipeline_id}/actions", json={})
    response.raise_for_status()
    action_id = int(response.headers["X-Devopness-Action-Id"])
    while True:
        action = http.get(f"/actions/{action_id}", params={"wait": 120}).json()
        if action["status"] in ("completed", "failed"):
            break
    wall = time.perf_counter() - started
    used = cpu_seconds(api_pid) - cpu
    assert action["status"] == "completed", action["status_reason_human_readable"]
    assert len(action["targets"]) == n
    # A target's own run time: from when the worker started it (an SSH session of the
    # worker's bounded pool was free) to its last step's end.
    durations = [
        (_parse(t["completed_at"]) - _parse(t["started_at"])).total_seconds()
        for t in action["targets"]
    ]
    p95 = statistics.quantiles(durations, n=20)[-1] if n > 1 else durations[0]
    return wall, used, p95


def ensure_bench_user() -> str:
    if os.geteuid() != 0:
        return os.environ.get("USER") or os.getlogin()
    if subprocess.run(["id", "dvpbench"], capture_output=True).returncode != 0:
        print("creating user dvpbench (shell /bin/sh) for the benchmark", file=sys.stderr)
        subprocess.run(["useradd", "-M", "-s", "/bin/sh", "dvpbench"], check=True)
    # No password, but not locked: sshd refuses locked accounts even for key logins.
    subprocess.run(["usermod", "-p", "*", "dvpbench"], check=True)
    return "dvpbench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50,100")
    parser.add_argument("--no-ansible", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (Ansible: one)")
    parser.add_argument(
        "--user",
        default=None,
        help="Login user on the loopback sshd (default: the current user; as root, a "
        "`dvpbench` user with /bin/sh is created, since root's ~/.bashrc, which sshd makes "
        "bash read, would be measured instead of the engine).",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    if OpenSSHServer.binary() is None:
        sys.exit("sshd not found: apt-get install openssh-server")
    key = asyncssh.generate_private_key("ssh-ed25519")
    sshd = OpenSSHServer(key).start()
    work = Path(tempfile.mkdtemp(prefix="dvp-bench-"))
    key_file = work / "id_ed25519"
    key_file.write_bytes(key.export_private_key())
    key_file.chmod(0o600)
    user = args.user or ensure_bench_user()
    # Pinned up front, as a server that has been connected to before.
    host_key = (
        asyncssh.read_private_key(str(sshd.dir / "host_ed25519"))
        .export_public_key("openssh").decode().strip()
    )
    database_url = os.environ.get(
        "BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{work / 'bench.db'}"
    )
    ansible = None if args.no_ansible else shutil.which("ansible-playbook")
    try:
        from app.core.migrations import upgrade
        from app.core.settings import Settings

        settings = Settings(database_url=database_url, _env_file=None)  # type: ignore[call-arg]
        engine_ciphers = settings.ssh_encryption_algs.split(",")
        upgrade(settings)
        token, _ = asyncio.run(setup_server_data(database_url, max(sizes)))
        access_file = work / "access.json"
        servers = {
            str(i): {
                "server_id": i, "host": "127.0.0.1", "port": sshd.port, "username": user,
                "private_key": key.export_private_key().decode(), "host_key": host_key,
                "hostname": f"bench-{i}", "os_version_code": "ubuntu_24_04",
            }
            for i in range(1, max(sizes) + 1)
        }
        env = {
            **os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING",
            "ENGINE_PLUGINS": "tests.actions.plugin", "DVP_TEST_ACCESS_FILE": str(access_file),
            "PYTHONPATH": str(ROOT),
        }
        env.pop("REDIS_URL", None)
        api, url = start_api(env)
        rows = []
        try:
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            with httpx.Client(base_url=url, headers=headers, timeout=180) as http:
                pipelines = {
                    n: http.get(f"/pipelines/application/{10_000 + n}").json()[0]["id"]
                    for n in sizes
                }
                for pipeline_id in set(pipelines.values()):
                    for command in STEPS:
                        http.post(
                            f"/pipelines/{pipeline_id}/steps",
                            json={"command": f"{command} ", "runner": "custom",
                                  "name": command.split(";")[0][5:]},
                        ).raise_for_status()
                # Warm up: first connection, imports, pool.
                access_file.write_text(json.dumps(
                    {"servers": servers, "application_servers": [1]}
                ))
                run_server(http, api.pid, pipelines[sizes[0]], 1)
                for n in sizes:
                    access_file.write_text(json.dumps(
                        {"servers": servers, "application_servers": list(range(1, n + 1))}
                    ))
                    for attempt in range(args.repeat):
                        s_wall, s_cpu, p95 = run_server(http, api.pid, pipelines[n], n)
                        f_wall, f_cpu = run_floor(n, sshd.port, key, user)
                        c_wall, c_cpu = run_floor(n, sshd.port, key, user, engine_ciphers)
                        a_wall = a_cpu = None
                        if ansible and attempt == 0:
                            a_wall, a_cpu = run_ansible(n, sshd.port, key_file, user, work)
                        rows.append(
                            (n, s_wall, s_cpu, p95, f_wall, f_cpu, c_wall, c_cpu, a_wall, a_cpu)
                        )
                        print(f"N={n}: server {s_wall:.2f}s floor {f_wall:.2f}s",
                              file=sys.stderr)
        finally:
            api.terminate()
            api.wait(10)
    finally:
        sshd.stop()
        shutil.rmtree(work, ignore_errors=True)

    print("| N | server wall (s) | server CPU (s) | target p95 (s) | asyncssh floor wall (s) "
          "| floor CPU (s) | wall / floor | CPU / floor | same-cipher floor wall (s) "
          "| its CPU (s) | wall / it | CPU / it | ansible wall (s) | ansible CPU (s) "
          "| ansible / server |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    first: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        first.setdefault(row[0], row)
    for n, s_wall, s_cpu, p95, f_wall, f_cpu, c_wall, c_cpu, a_wall, a_cpu in first.values():
        ansible_cols = (
            f"{a_wall:.2f} | {a_cpu:.2f} | {a_wall / s_wall:.1f}x"
            if a_wall is not None and a_cpu is not None
            else "n/a | n/a | n/a"
        )
        print(
            f"| {n} | {s_wall:.2f} | {s_cpu:.2f} | {p95:.2f} | {f_wall:.2f} | {f_cpu:.2f} "
            f"| {s_wall / f_wall:.2f}x | {s_cpu / max(f_cpu, 0.01):.2f}x | {c_wall:.2f} "
            f"| {c_cpu:.2f} | {s_wall / c_wall:.2f}x | {s_cpu / max(c_cpu, 0.01):.2f}x "
            f"| {ansible_cols} |"
        )
    if args.repeat > 1:
        print_spread(rows)


def print_spread(rows: list[tuple[Any, ...]]) -> None:
    def cell(values: list[float], unit: str) -> str:
        return (f"{statistics.median(values):.2f}{unit} "
                f"({min(values):.2f} to {max(values):.2f})")

    print(f"\nMedian (range) over {len(rows) // len({r[0] for r in rows})} runs per size:\n")
    print("| N | server wall (s) | target p95 (s) | wall / floor | CPU / floor "
          "| wall / same-cipher floor | CPU / same-cipher floor |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in sorted({r[0] for r in rows}):
        runs = [r for r in rows if r[0] == n]
        print(
            f"| {n} | {cell([r[1] for r in runs], '')} | {cell([r[3] for r in runs], '')} "
            f"| {cell([r[1] / r[4] for r in runs], 'x')} "
            f"| {cell([r[2] / max(r[5], 0.01) for r in runs], 'x')} "
            f"| {cell([r[1] / r[6] for r in runs], 'x')} "
            f"| {cell([r[2] / max(r[7], 0.01) for r in runs], 'x')} |"
        )


if __name__ == "__main__":
    main()

"""Deploy latency: one git application deployed through the API to N loopback servers.

    python benchmarks/deploy.py [--sizes 1,10,50] [--repeat 3]

Needs root and OpenSSH's sshd (each server is a fresh OS user on a loopback sshd, as
tests/remote does) and git. The API runs as users run it (`devopness-server serve`,
embedded runner, SQLite). Its owner, organization, project, environment and source
credential are written to the database first; everything else goes through the API as a
user does it: servers added with `POST /environments/{id}/servers` and connected by running
their connect command (`GET /servers/{id}/commands`) on the machine, which provisions them;
the application created linked to the N servers, its repository pointed at a loopback
`git://` host (`benchmarks/githost.py`, `DEVOPNESS_GIT_URL`), then
`POST /applications/{id}/deployments` and `GET /actions/{id}?wait=` until it completes.

The floor, measured in the same run: a plain asyncssh script that does what the deploy
does, over one SSH connection per server, all servers at once: fetch the commit into a
mirror, export it into a new release directory, switch `current` atomically (no virtual
host serves the application, so neither the deploy nor the floor reloads nginx). Twice per
run, as the deploys: into a folder of its own for the run, so the first time it creates
the mirror and fetches every object as a first deploy of the new application does (the
first deploy's floor), then again into the same folder, where the mirror is up to date
as for a redeploy (the redeploy's floor).

Reported per N (median and range over `--repeat` runs): request-to-completed of the first
deploy of a commit and of a redeploy of the same commit, the floors, their ratios (also
the first deploy against the redeploy's floor, the one floor measured before 2026-12-04),
and per step (the action's step records) the median and the slowest target's duration, so
the slowest step is visible. No assertions: it reports, it does not judge.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncssh
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.loopback import (  # noqa: E402
    free_port,
    machine_cpu,
    ok,
    wait_action,
    wait_port,
)
from tests.conftest import TEST_SECRET_KEY  # noqa: E402
from tests.remote.conftest import authorize, create_os_user, delete_os_user  # noqa: E402

# The key the factories seal environment keys with (the environment is seeded).
SECRET_KEY = TEST_SECRET_KEY
FILES = {"index.html": "<h1>hello</h1>\n", "app.py": "print('hello')\n",
         "README.md": "# bench\n", "config/settings.json": '{"debug": false}\n'}



# ---- the machines: sshd, the git host ------------------------------------------------


def start_sshd(work: Path, sessions: int) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    host_key = work / "host_ed25519"
    host_key.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    host_key.chmod(0o600)
    port = free_port()
    Path("/run/sshd").mkdir(exist_ok=True)
    config = work / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
        f"PidFile {work / 'sshd.pid'}", "AuthorizedKeysFile .ssh/authorized_keys",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes", "UsePAM no", "LogLevel ERROR",
        # Sessions in a UTF-8 locale, as PAM sets one on Debian and Ubuntu servers.
        "SetEnv LANG=C.UTF-8",
        # Every server's connection arrives at once.
        f"MaxStartups {sessions * 2}:30:{sessions * 4}", f"MaxSessions {sessions}",
    ]) + "\n")
    process = subprocess.Popen([binary, "-D", "-e", "-f", str(config)])
    wait_port(port, process, "sshd")
    return process, port


def start_git_host(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A bare repository with one commit of a few files, served over git:// (githost.py)."""
    base = work / "git"
    source = work / "source"
    identity = ["-c", "user.name=Bench", "-c", "user.email=bench@example.test",
                "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(source)], check=True)
    for relative, content in FILES.items():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_text(content)
    subprocess.run(["git", "-C", str(source), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(source), *identity, "commit", "-q", "-m", "first"],
                   check=True)
    base.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(base / "shop.git")],
                   check=True)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "githost.py"), str(port), str(base)],
    )
    wait_port(port, process, "git daemon")
    return process, f"git://127.0.0.1:{port}/shop.git"


# ---- the API ------------------------------------------------------------------------


async def seed(database_url: str) -> tuple[str, int, int]:
    """Owner with a token, organization, project, environment, a source credential."""
    from app.core.database import Database
    from app.core.security import SecretBox
    from app.core.settings import Settings
    from app.credentials.catalogue import PROVIDERS
    from app.credentials.models import Credential, CredentialEnvironment
    from app.credentials.secrets import seal
    from tests import factories

    settings = Settings(database_url=database_url, secret_key=SECRET_KEY, _env_file=None)
    database = Database(settings)
    async with database.sessionmaker() as db:
        user, token = await factories.user_with_token(db)
        org = await factories.create_organization(db, user)
        project = await factories.create_project(db, user, organization=org)
        environment = await factories.create_environment(db, project)
        credential = Credential(
            name="git host", provider_code="github",
            provider_type=PROVIDERS["github"].type.value, auth_type="api_credentials",
            active=True, organization_id=org.id, created_by=user.id,
            settings_encrypted=seal(SecretBox(settings), {"access_token": "unused"}),
        )
        db.add(credential)
        await db.flush()
        db.add(CredentialEnvironment(credential_id=credential.id,
                                     environment_id=environment.id))
        await db.commit()
        ids = environment.id, credential.id
    await database.dispose()
    return token, *ids


def start_api(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-c", "from launcher.cli import main; main()", "serve", "--host",
         "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env={**env, "PUBLIC_URL": url}, start_new_session=True,
    )
    wait_port(port, process, "the API")
    return process, url




def connect_servers(http: httpx.Client, environment_id: int, url: str, sshd_port: int,
                    users: list[tuple[str, Path]]) -> list[int]:
    """Add each machine and paste its connect command into its shell, as users do."""
    ids = []
    for user, home in users:
        server = ok(http.post(f"/environments/{environment_id}/servers", json={
            "hostname": f"bench-{user}", "ip_address": "127.0.0.1", "ssh_port": sshd_port,
            "provision_input": {"cloud_service_code": "self-hosted-custom",
                                "settings": {"os_version_code": "ubuntu_24_04"}},
        }))
        command = ok(http.get(f"/servers/{server['id']}/commands"))["connect_command"]
        result = subprocess.run(["runuser", "-u", user, "--", "/bin/bash", "-c", command],
                                capture_output=True, text=True, cwd=home, timeout=120)
        if result.returncode != 0:
            shown = subprocess.run(["runuser", "-u", user, "--", "/bin/bash", "-c",
                                    command.replace("curl -fsS", "curl -sS")],
                                   capture_output=True, text=True, cwd=home, timeout=120)
            raise RuntimeError(f"connect command failed: {result.stderr}{shown.stdout}")
        ids.append(server["id"])
    for server_id in ids:
        [latest, *_] = ok(http.get(f"/actions/server/{server_id}"))
        action = wait_action(http, latest["id"], wait=300)
        if action["status"] != "completed":
            raise RuntimeError(f"provisioning server {server_id}: "
                               f"{action['status_reason_human_readable']}")
    return ids


def create_application(http: httpx.Client, environment_id: int, credential_id: int,
                       server_ids: list[int], git_url: str, n: int) -> int:
    app = ok(http.post(f"/environments/{environment_id}/applications", json={
        "name": f"shop-{n}", "repository": "acme/shop", "credential_id": credential_id,
        "programming_language": "html", "framework": "none", "engine_version": "none",
        "default_branch": "main",
        "linked_resources": [{"resource_type": "server", "resource_id": i} for i in server_ids],
    }))
    ok(http.post(f"/variables/application/{app['id']}", json={
        "key": "DEVOPNESS_GIT_URL", "value": git_url, "target": "os-env-var",
        "type": "variable", "hidden": False,
    }))
    return int(app["id"])


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def failed_logs(http: httpx.Client, action: dict[str, Any]) -> str:
    """The logs of the failed steps (the first three), so a failed run says why."""
    logs: list[str] = []
    for target in action["targets"]:
        for step in target.get("steps") or []:
            if step["status"] == "failed" and len(logs) < 3:
                body = http.get(f"/actions/{action['id']}/targets/{target['id']}/steps/"
                                f"{step['order']}/logs").json()
                lines = str((body.get("step") or {}).get("output") or "").splitlines()
                logs.append(f"target {target['id']}, step {step['name']}:\n"
                            + "\n".join(lines[-15:]))
    return "\n".join(logs)


class Group:
    """A CPU-accounting cgroup holding one process and everything it starts from then on
    (sshd's sessions, their shells, git, tar...): its CPU is exact, where a process'
    rusage misses descendants not waited for. cgroup v1's cpuacct, else cgroup v2; None
    where neither can be written (the table then says n/a)."""

    def __init__(self, path: Path, usage: str) -> None:
        self.path, self.usage = path, usage

    @classmethod
    def of(cls, name: str, pid: int) -> Group | None:
        with open("/proc/mounts") as mounts:
            entries = [line.split() for line in mounts]
        v1 = [m[1] for m in entries if m[2] == "cgroup" and "cpuacct" in m[3].split(",")]
        v2 = [m[1] for m in entries if m[2] == "cgroup2"]
        for root, usage in [(r, "cpuacct.usage") for r in v1] + [(r, "cpu.stat") for r in v2]:
            path = Path(root) / f"dvp-deploy-bench-{os.getpid()}-{name}"
            try:
                path.mkdir(exist_ok=True)
                (path / "cgroup.procs").write_text(str(pid))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            return cls(path, usage)
        return None

    def seconds(self) -> float:
        text = (self.path / self.usage).read_text()
        if self.usage == "cpuacct.usage":
            return int(text) / 1e9
        return int(dict(line.split() for line in text.splitlines())["usage_usec"]) / 1e6

    def remove(self) -> None:
        # Emptied when its processes have exited; the parent group takes any left.
        parent = self.path.parent / "cgroup.procs"
        with contextlib.suppress(OSError):
            for pid in (self.path / "cgroup.procs").read_text().split():
                parent.write_text(pid)
        with contextlib.suppress(OSError):
            self.path.rmdir()


class CPU:
    """CPU spent between start() and stop(): the whole machine, and its parts: the API (the
    deploy's engine), the servers (sshd and everything it ran: shells, git, tar, mv...),
    the git host, and this process (the floor's client)."""

    PARTS = ("machine", "API", "servers (sshd and all it ran)", "git host", "floor client",
             "rest (kernel, other processes)")

    def __init__(self, api: int, sshd: int, git_host: int) -> None:
        self.groups = [Group.of(name, pid) for name, pid in
                       (("api", api), ("sshd", sshd), ("githost", git_host))]

    def _read(self) -> list[float]:
        return [machine_cpu(), *(g.seconds() if g else float("nan") for g in self.groups),
                time.process_time()]

    def start(self) -> None:
        self.started = self._read()

    def stop(self) -> dict[str, float]:
        # The last connections' sessions end a moment after the client saw the work done.
        time.sleep(0.3)
        spent = [b - a for a, b in zip(self.started, self._read(), strict=True)]
        return dict(zip(self.PARTS, [*spent, spent[0] - sum(spent[1:])], strict=True))

    def remove(self) -> None:
        for group in self.groups:
            if group:
                group.remove()


def deploy(http: httpx.Client, application_id: int, n: int
           ) -> tuple[float, dict[str, list[float]], dict[str, Any]]:
    started = time.perf_counter()
    response = http.post(f"/applications/{application_id}/deployments",
                         json={"type": "deploy", "source_type": "branch", "source_ref": "main"})
    ok(response)
    action = wait_action(http, int(response.headers["X-Devopness-Action-Id"]), wait=300)
    wall = time.perf_counter() - started
    if action["status"] != "completed":
        raise RuntimeError(f"deploy failed: {action['status_reason_human_readable']}\n"
                           + failed_logs(http, action))
    assert len(action["targets"]) == n
    steps: dict[str, list[float]] = defaultdict(list)
    for target in action["targets"]:
        for step in target.get("steps") or []:
            if step.get("started_at") and step.get("completed_at"):
                steps[step["name"]].append(
                    (_ts(step["completed_at"]) - _ts(step["started_at"])).total_seconds())
    # Where the rest goes: from the request to the first step's start, and from the last
    # step's end to the action's completion as the client saw it.
    firsts = [_ts(s["started_at"]) for t in action["targets"] for s in t.get("steps") or []
              if s.get("started_at")]
    created = _ts(action["created_at"])
    # Per target: its first step's start (how long it waited for the engine, a session of
    # the runner's bounded pool, its server's slot, the SSH connection), and the time
    # between its steps (the engine's own work from one step's end to the next's start).
    starts, gaps = [], []
    for target in action["targets"]:
        timed = [s for s in target.get("steps") or [] if s.get("started_at")
                 and s.get("completed_at")]
        if not timed:
            continue
        starts.append((_ts(timed[0]["started_at"]) - created).total_seconds())
        gaps.append(sum((_ts(b["started_at"]) - _ts(a["completed_at"])).total_seconds()
                        for a, b in itertools.pairwise(timed)))
    phases = {"queued (created to first step)": (min(firsts) - created).total_seconds(),
              "last target's first step after creation": max(starts),
              "gaps between a target's steps (median)": statistics.median(gaps),
              "action created to completed": (_ts(action["completed_at"]) - created
                                              ).total_seconds()}
    return wall, steps, phases


# ---- the floor ----------------------------------------------------------------------

FLOOR_SCRIPT = r"""set -eu
app="$HOME/$APP"; mirror="$app/repo.git"; release="$app/releases/$RELEASE"
mkdir -p "$app/releases"
[ -d "$mirror" ] || git init -q --bare "$mirror"
git --git-dir="$mirror" fetch -q --force "$GIT_URL" "+refs/heads/main:refs/heads/main"
mkdir "$release"
git --git-dir="$mirror" archive main | tar -x -C "$release"
ln -sfn "releases/$RELEASE" "$app/.current-new"
mv -T -f "$app/.current-new" "$app/current"
"""


async def floor(users: list[str], port: int, key: asyncssh.SSHKey, git_url: str,
                app: str, release: int) -> float:
    """Seconds to run the floor's script on every server at once, in folder `app` of the
    user's home (a new one: what a first deploy does; one used before: a redeploy)."""
    async def one(user: str) -> None:
        async with asyncssh.connect(
            "127.0.0.1", port, username=user, client_keys=[key], known_hosts=None,
            agent_path=None, config=[],
        ) as conn:
            # sshd accepts no client environment here (no AcceptEnv): quoted assignments.
            await conn.run(f"APP={shlex.quote(app)} RELEASE={release} "
                           f"GIT_URL={shlex.quote(git_url)} bash -s",
                           input=FLOOR_SCRIPT, check=True)

    started = time.perf_counter()
    await asyncio.gather(*(one(u) for u in users))
    return time.perf_counter() - started


# ---- report -------------------------------------------------------------------------


def cell(values: list[float], unit: str = "") -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}{unit}"
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f} to {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--repeat", type=int, default=3, help="deploys per size")
    parser.add_argument("--parallel-targets", type=int, default=None,
                        help="WORKER_MAX_PARALLEL_TARGETS for the API's runner (default: "
                        "the setting's default)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if os.geteuid() != 0:
        sys.exit("run as root: each server is an OS user on a loopback sshd")

    work = Path(tempfile.mkdtemp(prefix="dvp-deploy-bench-"))
    work.chmod(0o755)
    processes: list[subprocess.Popen[bytes]] = []
    users: list[tuple[str, Path]] = []
    rows = []
    cpu: CPU | None = None
    try:
        sshd, sshd_port = start_sshd(work, max(sizes) + 10)
        git_daemon, git_url = start_git_host(work)
        processes += [sshd, git_daemon]
        database_url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
        from app.core.migrations import upgrade
        from app.core.settings import Settings

        upgrade(Settings(database_url=database_url, secret_key=SECRET_KEY, _env_file=None))
        token, environment_id, credential_id = asyncio.run(seed(database_url))
        env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY,
               "ENVIRONMENT": "development", "LOG_LEVEL": "WARNING",
               "RATE_LIMIT_ENABLED": "false", "PYTHONPATH": str(ROOT)}
        for name in ("REDIS_URL", "ENGINE_PLUGINS"):
            env.pop(name, None)
        if args.parallel_targets:
            env["WORKER_MAX_PARALLEL_TARGETS"] = str(args.parallel_targets)
        api, url = start_api(env)
        processes.append(api)
        cpu = CPU(api.pid, sshd.pid, git_daemon.pid)
        cpus: list[tuple[int, dict[str, float], dict[str, float]]] = []
        floor_key = asyncssh.generate_private_key("ssh-ed25519")
        floor_public = floor_key.export_public_key("openssh").decode()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
            connected: list[int] = []
            run = 0
            for n in sizes:
                while len(users) < n:
                    user, home = create_os_user()
                    users.append((user, home))
                    authorize(home, user, floor_public)
                print(f"N={n}: connecting {n - len(connected)} servers", file=sys.stderr,
                      flush=True)
                connected += connect_servers(http, environment_id, url, sshd_port,
                                             users[len(connected):n])
                for attempt in range(args.repeat):
                    app_id = create_application(http, environment_id, credential_id,
                                                connected[:n], git_url, n * 100 + attempt)
                    cpu.start()
                    first, steps, phases = deploy(http, app_id, n)
                    deploy_cpu = cpu.stop()
                    again, steps_again, _ = deploy(http, app_id, n)
                    run += 1
                    logins = [u for u, _ in users[:n]]
                    cpu.start()
                    first_floor = asyncio.run(floor(logins, sshd_port, floor_key, git_url,
                                                    f"floor-{run}", 1))
                    floor_cpu = cpu.stop()
                    cpus.append((n, deploy_cpu, floor_cpu))
                    again_floor = asyncio.run(floor(logins, sshd_port, floor_key, git_url,
                                                    f"floor-{run}", 2))
                    rows.append((n, first, again, first_floor, steps, steps_again, phases,
                                 again_floor))
                    print(f"N={n}: deploy {first:.2f}s redeploy {again:.2f}s floors "
                          f"{first_floor:.2f}s {again_floor:.2f}s; CPU s: deploy "
                          f"{deploy_cpu['machine']:.2f} (API {deploy_cpu['API']:.2f}), "
                          f"floor {floor_cpu['machine']:.2f}",
                          file=sys.stderr, flush=True)
    finally:
        if cpu is not None:
            cpu.remove()
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                if process.pid == os.getpgid(process.pid):
                    os.killpg(process.pid, 15)
                else:
                    process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(15)
        for user, _ in users:
            delete_os_user(user)
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nMedian (range) over {args.repeat} deploys per size\n")
    print("| N | deploy (s) | redeploy same commit (s) | floor of a first deploy (s) "
          "| floor of a redeploy (s) | deploy / its floor | redeploy / its floor "
          "| deploy / redeploy's floor |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        runs = [r for r in rows if r[0] == n]
        print(f"| {n} | {cell([r[1] for r in runs])} | {cell([r[2] for r in runs])} "
              f"| {cell([r[3] for r in runs])} | {cell([r[7] for r in runs])} "
              f"| {cell([r[1] / r[3] for r in runs], 'x')} "
              f"| {cell([r[2] / r[7] for r in runs], 'x')} "
              f"| {cell([r[1] / r[7] for r in runs], 'x')} |")
    print("\nPer step, first deploy: median over targets and runs (slowest target's, median "
          "over runs), seconds\n")
    names = list(dict.fromkeys(name for r in rows for name in r[4]))
    keys = ["queued (created to first step)", "last target's first step after creation",
            "gaps between a target's steps (median)", "action created to completed"]
    print("| N | " + " | ".join(names + keys) + " |")
    print("|---:|" + "---:|" * (len(names) + len(keys)))
    for n in sizes:
        runs = [r for r in rows if r[0] == n]
        cells = []
        for name in names:
            every = [d for r in runs for d in r[4].get(name, [])]
            slowest = [max(r[4][name]) for r in runs if r[4].get(name)]
            cells.append(f"{statistics.median(every):.2f} ({statistics.median(slowest):.2f})"
                         if every else "n/a")
        phase_cells = [cell([r[6][k] for r in runs]) for k in keys]
        print(f"| {n} | " + " | ".join(cells + phase_cells) + " |")
    print("\nCPU seconds of a first deploy and of its floor, median (range) over runs: the "
          "whole machine (both cores), then its parts\n")
    print("| N | run | " + " | ".join(CPU.PARTS) + " |")
    print("|---:|---|" + "---:|" * len(CPU.PARTS))

    def part(values: list[float]) -> str:
        return "n/a" if any(math.isnan(v) for v in values) else cell(values)

    for n in sizes:
        for label in ("deploy", "floor"):
            measured = [d if label == "deploy" else f for m, d, f in cpus if m == n]
            print(f"| {n} | {label} | "
                  + " | ".join(part([m[name] for m in measured]) for name in CPU.PARTS)
                  + " |")
        ratio = [d["machine"] / f["machine"] for m, d, f in cpus if m == n and f["machine"]]
        print(f"| {n} | deploy / floor, machine | {cell(ratio, 'x')} |"
              + " |" * (len(CPU.PARTS) - 1))


if __name__ == "__main__":
    main()

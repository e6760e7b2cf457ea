"""Daemons for real: supervised processes of the server's unprivileged SSH user, run by
that user's own supervisord (no systemd and no root here), checked with `pgrep`."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.daemons.models import Daemon
from tests import resource_factories as rf
from tests.remote import roothost
from tests.remote.conftest import Remote
from tests.remote.test_cron_jobs import finish_removal
from workers.engine import scripts

# The daemons sleep for a time of this run's own, so that `pgrep` finds only theirs (a
# user id is reused by the next test's user).
SLEEP = f"sleep {1_000_000 + secrets.randbelow(1_000_000)}"
# Quotes, `$`, `%`, `;`, `#` and a subshell: the command must reach /bin/sh as written.
COMMAND = (
    "echo \"proc $DEVOPNESS_DAEMON_PROCESS in $(pwd) 100%\" >> started.log; "
    f"exec {SLEEP} # it's ours"
)


def pids(remote: Remote) -> set[int]:
    """The daemons' processes: our `sleep` owned by the test user."""
    out = remote.sh(f"pgrep -u \"$(id -u)\" -x -f '{SLEEP}' || true").stdout
    return {int(p) for p in out.split()}


@pytest.fixture(autouse=True)
def shut_down_supervisord(request: pytest.FixtureRequest) -> Iterator[None]:
    """Stop the test user's supervisord and its processes before the user is deleted
    (else a process respawned during the kill could outlive the user)."""
    if request.node.get_closest_marker("roothost"):
        yield
        return
    remote: Remote = request.getfixturevalue("remote")
    yield
    remote.sh("for c in ~/.config/devopness/supervisor/supervisord.conf "
              "~/supervisor/supervisord.conf; do [ -f $c ] && supervisorctl -c $c shutdown; "
              "done; for i in $(seq 50); do pgrep -u \"$(id -u)\" supervisord || break; "
              "sleep 0.1; done", check=False)


def helpers() -> str:
    """The helpers every script gets (lib.sh and lib/*.sh), to call one directly."""
    return "set -euo pipefail\n" + scripts._helpers() + "\n"


def program_file(remote: Remote, daemon_id: int, base: Path | None = None) -> Path:
    base = base or remote.home / ".config/devopness/supervisor"
    return base / "conf.d" / f"devopness-daemon-{daemon_id}.conf"


async def wait_for(predicate: Callable[[], bool]) -> None:
    for _ in range(100):
        if predicate():
            return
        await asyncio.sleep(0.1)
    assert predicate()


async def test_daemon_lifecycle_with_own_supervisord(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    workdir = remote.home / "work"
    remote.sh(f"mkdir -p {workdir}")
    daemon = await rf.create_daemon(
        db, remote.tenant, command=COMMAND, run_as_user=remote.user,
        working_directory=str(workdir), process_count=2,
    )
    await rf.link(db, "daemon", daemon.id, remote.server)
    base = f"/daemons/{daemon.id}"

    action = await remote.operate(client, f"{base}/deploy")
    logs = await remote.logs(client, action)
    assert "all 2 processes running (supervisor)" in logs
    first = pids(remote)
    assert len(first) == 2
    await wait_for(lambda: len((workdir / "started.log").read_text().splitlines()) == 2)
    assert sorted((workdir / "started.log").read_text().splitlines()) == [
        f"proc 0 in {workdir} 100%", f"proc 1 in {workdir} 100%",
    ]
    config = program_file(remote, daemon.id).read_text()
    assert "numprocs=2" in config and f"directory={workdir}" in config
    # The user's supervisord keeps its socket in its own directory.
    assert (remote.home / ".config/devopness/supervisor/supervisor.sock").is_socket()
    # ... and is started again at boot from the user's crontab.
    assert "@reboot" in remote.sh("crontab -l").stdout

    # Deploying again changes nothing: same definition, same processes.
    await remote.operate(client, f"{base}/deploy")
    assert pids(remote) == first
    assert program_file(remote, daemon.id).read_text() == config

    action = await remote.operate(client, f"{base}/get-status")
    assert "##devopness-result running=2" in await remote.logs(client, action)

    await remote.operate(client, f"{base}/stop")
    assert pids(remote) == set()
    action = await remote.operate(client, f"{base}/get-status", expect="failed")
    assert "0 of 2 processes running" in await remote.logs(client, action)

    await remote.operate(client, f"{base}/start")
    started = pids(remote)
    assert len(started) == 2

    await remote.operate(client, f"{base}/restart")
    restarted = pids(remote)
    assert len(restarted) == 2 and not restarted & started

    # What application deploys call for their linked daemons.
    out = remote.sh(helpers() + f"dv_daemon_restart {daemon.id}; dv_daemon_restart 999999",
                    check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "warning: daemon 999999 is not installed on this server" in out.stdout
    again = pids(remote)
    assert len(again) == 2 and not again & restarted

    # Fewer processes on redeploy.
    stored = await db.get(Daemon, daemon.id)
    assert stored is not None
    stored.process_count = 1
    await db.commit()
    await remote.operate(client, f"{base}/deploy")
    assert len(pids(remote)) == 1
    assert "numprocs=1" in program_file(remote, daemon.id).read_text()

    response = await client.delete(base, headers=remote.tenant.headers)
    assert response.status_code == 204, response.text
    logs = await finish_removal(db, "daemon", daemon.id)
    assert "removed (supervisor)" in logs
    assert pids(remote) == set()
    assert not program_file(remote, daemon.id).exists()
    status = remote.sh(
        "supervisorctl -c ~/.config/devopness/supervisor/supervisord.conf status", check=False)
    assert f"devopness-daemon-{daemon.id}" not in status.stdout


async def test_bad_command_restores_the_previous_definition(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    # A supervisor directory of the operator's choice, through a server variable.
    supervisor_dir = remote.home / "supervisor"
    await rf.create_variable(db, remote.tenant, "server", remote.server.id,
                             key="DEVOPNESS_SUPERVISOR_DIR", value_plain=str(supervisor_dir))
    daemon = await rf.create_daemon(
        db, remote.tenant, command=SLEEP, run_as_user=remote.user,
        working_directory=str(remote.home), process_count=1,
    )
    await rf.link(db, "daemon", daemon.id, remote.server)
    await remote.operate(client, f"/daemons/{daemon.id}/deploy")
    before = pids(remote)
    config = program_file(remote, daemon.id, supervisor_dir).read_text()
    assert len(before) == 1

    stored = await db.get(Daemon, daemon.id)
    assert stored is not None
    stored.command = "echo broken on purpose; exit 3"
    await db.commit()
    action = await remote.operate(client, f"/daemons/{daemon.id}/deploy", expect="failed")
    logs = await remote.logs(client, action)
    assert "the daemon did not start: 0 of 1 processes running" in logs
    assert "broken on purpose" in logs
    # The previous definition runs again.
    assert program_file(remote, daemon.id, supervisor_dir).read_text() == config
    await wait_for(lambda: len(pids(remote)) == 1)


async def test_clear_failures(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    # Another user needs root, which this SSH user does not have.
    other = await rf.create_daemon(db, remote.tenant, command=SLEEP,
                                   run_as_user="nobody", working_directory="/tmp")
    await rf.link(db, "daemon", other.id, remote.server)
    action = await remote.operate(client, f"/daemons/{other.id}/deploy", expect="failed")
    logs = await remote.logs(client, action)
    assert "running the daemon as 'nobody' needs root" in logs

    missing = await rf.create_daemon(db, remote.tenant, command=SLEEP,
                                     run_as_user=remote.user,
                                     working_directory="/nonexistent/dir")
    await rf.link(db, "daemon", missing.id, remote.server)
    action = await remote.operate(client, f"/daemons/{missing.id}/deploy", expect="failed")
    assert "working directory '/nonexistent/dir' does not exist" in await remote.logs(
        client, action)

    # Operations on a daemon that was never deployed say so.
    action = await remote.operate(client, f"/daemons/{missing.id}/start", expect="failed")
    assert "is not deployed on this server: deploy it first" in await remote.logs(
        client, action)
    assert pids(remote) == set()


async def test_other_tenant_cannot_operate(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    daemon = await rf.create_daemon(db, remote.tenant, run_as_user=remote.user)
    await rf.link(db, "daemon", daemon.id, remote.server)
    intruder = await rf.create_tenant(db)
    for operation in ("deploy", "get-status", "start", "stop", "restart"):
        response = await client.post(f"/daemons/{daemon.id}/{operation}", json={},
                                     headers=intruder.headers)
        assert response.status_code == 404, response.text


# --- root tier: the system supervisord of a whole Debian machine -------------------------


@pytest.fixture(scope="module")
def root_host() -> Iterator[roothost.RootHost]:
    yield from roothost.machine_or_skip()


@pytest.mark.roothost
async def test_root_runs_daemons_as_another_user_with_system_supervisor(
    client: httpx.AsyncClient, db: AsyncSession, root_host: roothost.RootHost
) -> None:
    tenant = await rf.create_tenant(db)
    root_host.authorize(tenant.environment.ssh_public_key)
    server = await rf.create_server(db, tenant, ssh_port=root_host.port, ssh_user="root",
                                    max_parallel_actions=0)
    remote = Remote(tenant, server, "root", root_host.root / "root", None)  # type: ignore[arg-type]
    root_host.sh("id app >/dev/null 2>&1 || useradd -m -s /bin/sh app")
    daemon = await rf.create_daemon(db, tenant, command=SLEEP, run_as_user="app",
                                    working_directory="/home/app", process_count=2)
    await rf.link(db, "daemon", daemon.id, server)

    def running() -> list[str]:
        out = root_host.sh(f"pgrep -u app -x -f '{SLEEP}' || true").stdout
        return out.split()

    # supervisor is not installed yet: deploying installs it (apt) and starts it.
    action = await remote.operate(client, f"/daemons/{daemon.id}/deploy")
    logs = await remote.logs(client, action)
    assert "installing supervisor" in logs
    assert "all 2 processes running (supervisor)" in logs
    assert len(running()) == 2
    config = root_host.root / f"etc/supervisor/conf.d/devopness-daemon-{daemon.id}.conf"
    assert "user=app" in config.read_text()

    await remote.operate(client, f"/daemons/{daemon.id}/deploy")
    assert len(running()) == 2

    response = await client.delete(f"/daemons/{daemon.id}", headers=tenant.headers)
    assert response.status_code == 204, response.text
    await finish_removal(db, "daemon", daemon.id)
    assert running() == []
    assert not config.exists()

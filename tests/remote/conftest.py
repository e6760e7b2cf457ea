"""Real operations on a real server: OpenSSH `sshd` on loopback and, per test, a fresh
unprivileged OS user with its own home, reached through a server record exactly as users
configure one (address, port, SSH user, the environment's key in `authorized_keys`).

Needs root (to run sshd and create users) and OpenSSH; outside CI the tests skip with the
reason when either is missing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncssh
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.servers.models import Server
from tests import resource_factories as rf
from tests.actions.ssh_servers import OpenSSHServer, free_port

USERS_ROOT = Path("/tmp/dvp-remote")
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """CI runs the suite twice, on PostgreSQL then on SQLite. What this tier checks happens
    on the servers, the same whichever database records it, so CI's second pass sets
    DEVOPNESS_REMOTE_TIER=ran and leaves it out (nothing of it is set up)."""
    if os.environ.get("DEVOPNESS_REMOTE_TIER") != "ran":
        return
    skip = pytest.mark.skip(reason="the real-operations tier ran in this CI run's "
                                   "PostgreSQL pass (DEVOPNESS_REMOTE_TIER=ran)")
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(skip)


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@dataclass
class SSHHost:
    port: int
    host_key: str
    pid: int = 0  # the sshd's, when the tests run it


@pytest.fixture(scope="session")
def sshd_host() -> Iterator[SSHHost]:
    """sshd as root, key-only, each user's own `~/.ssh/authorized_keys`."""
    sshd = OpenSSHServer.binary()
    _require(sshd is not None, "OpenSSH sshd is not installed (apt-get install openssh-server)")
    _require(os.geteuid() == 0, "these tests create OS users and run sshd: run them as root")
    assert sshd is not None
    workdir = Path(tempfile.mkdtemp(prefix="dvp-sshd-"))
    workdir.chmod(0o755)
    host_key = workdir / "host_ed25519"
    key = asyncssh.generate_private_key("ssh-ed25519")
    host_key.write_bytes(key.export_private_key())
    host_key.chmod(0o600)
    port = free_port()
    Path("/run/sshd").mkdir(exist_ok=True)
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join([
            f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
            f"PidFile {workdir / 'sshd.pid'}", "AuthorizedKeysFile .ssh/authorized_keys",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "PermitRootLogin prohibit-password", "UsePAM no",
            "MaxStartups 200:30:400", "MaxSessions 50", "LogLevel ERROR",
            # Sessions in a UTF-8 locale, as PAM sets one on Debian and Ubuntu servers.
            "SetEnv LANG=C.UTF-8",
        ]) + "\n"
    )
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)])
    deadline = time.monotonic() + 10
    import socket

    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("sshd did not start")
    yield SSHHost(port, key.export_public_key("openssh").decode().strip(), proc.pid)
    proc.terminate()
    proc.wait(5)
    shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Remote:
    """One test's server: a fresh OS user on the loopback sshd, and its server record."""

    tenant: rf.Tenant
    server: Server
    user: str
    home: Path
    host: SSHHost

    def sh(self, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a shell command on the "server" as its SSH user, to look at the result."""
        return run_as(self.user, self.home, command, check)

    def read(self, relative: str) -> str:
        return (self.home / relative).read_text()

    async def operate(
        self, client: httpx.AsyncClient, path: str, json: dict[str, Any] | None = None,
        *, expect: str = "completed",
    ) -> dict[str, Any]:
        """POST an operation endpoint, wait for its action, check how it ended."""
        response = await client.post(path, json=json or {}, headers=self.tenant.headers)
        assert response.status_code in (200, 201, 204), response.text
        action_id = int(response.headers["X-Devopness-Action-Id"])
        return await self.wait(client, action_id, expect=expect)

    async def wait(
        self, client: httpx.AsyncClient, action_id: int, *, expect: str | None = "completed"
    ) -> dict[str, Any]:
        r = await client.get(f"/actions/{action_id}", params={"wait": 120},
                             headers=self.tenant.headers)
        assert r.status_code == 200, r.text
        action: dict[str, Any] = r.json()
        if expect is not None and action["status"] != expect:
            logs = await self.logs(client, action)
            raise AssertionError(f"action {action_id} is {action['status']}, not {expect}: "
                                 f"{action['status_reason_human_readable']}\n{logs}")
        return action

    async def logs(self, client: httpx.AsyncClient, action: dict[str, Any]) -> str:
        """Every step's log of every target, in order."""
        out = []
        for target in action["targets"]:
            for step in target.get("steps") or []:
                r = await client.get(
                    f"/actions/{action['id']}/targets/{target['id']}/steps/{step['order']}/logs",
                    headers=self.tenant.headers,
                )
                assert r.status_code == 200, r.text
                out.append(f"--- {step['name']} ({step['status']})\n"
                           + (r.json()["step"]["output"] or ""))
        return "".join(out)


class Shell(Protocol):
    """A user's shell on a loopback machine (a test's `Remote`, a guide's machine)."""

    user: str
    home: Path

    def sh(self, command: str, check: bool = True) -> subprocess.CompletedProcess[str]: ...


def run_as(user: str, home: Path, command: str, check: bool = True
           ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["runuser", "-u", user, "--", "/bin/bash", "-c", command],
        capture_output=True, text=True, cwd=home, timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{command!r} failed ({result.returncode}): {result.stdout}{result.stderr}"
        )
    return result


def _account_command(command: list[str], check: bool = True) -> None:
    """useradd/usermod/userdel, again while another process holds the account files' lock:
    CI's two passes create and remove test users at the same time."""
    for _ in range(100):
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0 or "lock" not in result.stderr.lower():
            break
        time.sleep(0.1)
    if check and result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, command, result.stdout,
                                            result.stderr)


def create_os_user() -> tuple[str, Path]:
    USERS_ROOT.mkdir(mode=0o755, exist_ok=True)
    user = f"dvt{secrets.token_hex(4)}"
    home = USERS_ROOT / user
    _account_command(["useradd", "-m", "-d", str(home), "-s", "/bin/bash", user])
    # A locked password ("!") makes sshd refuse the account even for key logins.
    _account_command(["usermod", "-p", "*", user])
    return user, home


def delete_os_user(user: str) -> None:
    # Until none is left: a supervisor may respawn a process while we kill, and the next
    # test's user often gets the same uid.
    for _ in range(50):
        subprocess.run(["pkill", "-KILL", "-u", user], check=False)
        if subprocess.run(["pgrep", "-u", user], capture_output=True).returncode != 0:
            break
        time.sleep(0.05)
    subprocess.run(["crontab", "-r", "-u", user], check=False, capture_output=True)
    _account_command(["userdel", "-r", "-f", user], check=False)


def authorize(home: Path, user: str, public_key: str) -> None:
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    keys = ssh / "authorized_keys"
    with keys.open("a") as f:
        f.write(public_key.strip() + "\n")
    keys.chmod(0o600)
    entry = pwd.getpwnam(user)
    for path in (ssh, keys):
        os.chown(path, entry.pw_uid, entry.pw_gid)


@pytest.fixture
async def remote(db: AsyncSession, sshd_host: SSHHost) -> AsyncIterator[Remote]:
    tenant = await rf.create_tenant(db)
    user, home = create_os_user()
    try:
        authorize(home, user, tenant.environment.ssh_public_key)
        server = await rf.create_server(db, tenant, ssh_port=sshd_host.port, ssh_user=user,
                                        max_parallel_actions=0)
        yield Remote(tenant, server, user, home, sshd_host)
    finally:
        delete_os_user(user)

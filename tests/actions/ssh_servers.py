"""Real SSH servers on loopback for engine tests.

`ShellSSHServer`: asyncssh in-process, runs each command with `/bin/sh -c` as the current
user in a new session (like sshd does), so process groups and signals behave as on a host.
`OpenSSHServer`: the system's `sshd` on a free port with its own host key and config.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.targets import ServerAccess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(asyncssh.SSHServer):
    def __init__(self, authorized: asyncssh.SSHKey, ciphers: list[str] | None = None) -> None:
        self.authorized = authorized
        self.ciphers = ciphers

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        if self.ciphers is not None:
            # Known once the key exchange is done: read it when authentication begins.
            self._conn = conn

    def begin_auth(self, username: str) -> bool:
        if self.ciphers is not None:
            self.ciphers.append(str(self._conn.get_extra_info("recv_cipher")))
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return bool(
            key.export_public_key("openssh") == self.authorized.export_public_key("openssh")
        )


async def _pump(reader: asyncio.StreamReader | None, writer: Any) -> None:
    assert reader is not None
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


_running: set[asyncio.subprocess.Process] = set()


def kill_leftovers() -> None:
    """Kill commands whose client vanished (a killed worker leaves its step running)."""
    for proc in list(_running):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, 9)


async def _run_in_shell(process: asyncssh.SSHServerProcess[bytes]) -> None:
    command = process.command or "exec /bin/sh"
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    _running.add(proc)

    async def feed_stdin() -> None:
        assert proc.stdin is not None
        with contextlib.suppress(Exception):
            async for line in process.stdin:
                proc.stdin.write(line)
            proc.stdin.close()

    feeder = asyncio.create_task(feed_stdin())
    try:
        await asyncio.gather(
            _pump(proc.stdout, process.stdout), _pump(proc.stderr, process.stderr)
        )
        code = await proc.wait()
    except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, OSError):
        code = 255
    except asyncio.CancelledError:
        # The client went away: do what sshd does, hang up on the session.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 1)
        raise
    finally:
        _running.discard(proc)
    feeder.cancel()
    process.exit(code if code >= 0 else 128 - code)


@dataclass
class ShellSSHServer:
    client_key: asyncssh.SSHKey
    host_key: asyncssh.SSHKey = field(
        default_factory=lambda: asyncssh.generate_private_key("ssh-ed25519")
    )
    port: int = 0
    _acceptor: Any = None
    # The cipher each client connection chose, in order (what clients offered first).
    ciphers: list[str] = field(default_factory=list)

    async def start(self) -> ShellSSHServer:
        self.port = self.port or free_port()
        self._acceptor = await asyncssh.create_server(
            lambda: _Server(self.client_key, self.ciphers),
            "127.0.0.1",
            self.port,
            server_host_keys=[self.host_key],
            process_factory=_run_in_shell,
            encoding=None,
        )
        return self

    async def stop(self) -> None:
        kill_leftovers()
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()

    @property
    def public_host_key(self) -> str:
        return self.host_key.export_public_key("openssh").decode().strip()


class OpenSSHServer:
    """`sshd -D` on a free port; key-only, as the current user."""

    def __init__(self, client_key: asyncssh.SSHKey) -> None:
        self.client_key = client_key
        self.dir = Path(tempfile.mkdtemp(prefix="dvp-sshd-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str | None:
        return shutil.which("sshd") or next(
            (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.path.exists(p)), None
        )

    def start(self) -> OpenSSHServer:
        sshd = self.binary()
        assert sshd is not None
        host_key = self.dir / "host_ed25519"
        host_key.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
        host_key.chmod(0o600)
        authorized = self.dir / "authorized_keys"
        authorized.write_bytes(self.client_key.export_public_key("openssh"))
        # sshd reads it as the login user, who may not be the one running the tests.
        self.dir.chmod(0o755)
        authorized.chmod(0o644)
        Path("/run/sshd").mkdir(exist_ok=True) if os.geteuid() == 0 else None
        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"AuthorizedKeysFile {authorized}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "UsePAM no",
                    "MaxStartups 500:30:1000",
                    "MaxSessions 100",
                    "LogLevel ERROR",
                ]
            )
            + "\n"
        )
        self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), 0.2
            ):
                return self
            time.sleep(0.05)
        raise RuntimeError("sshd did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


class LoopbackServers:
    """A ServerAccessProvider over a dict: server id -> how to reach a loopback server."""

    def __init__(self, client_key: asyncssh.SSHKey) -> None:
        self.client_key = client_key
        self.private_key = client_key.export_private_key().decode()
        self.access: dict[int, ServerAccess] = {}
        self.pinned: dict[int, str] = {}
        self.secrets: list[str] = []

    def add(self, server_id: int, port: int, *, max_parallel: int = 0,
            host: str = "127.0.0.1", host_key: str | None = None) -> None:
        self.access[server_id] = ServerAccess(
            server_id=server_id,
            host=host,
            port=port,
            username=os.environ.get("USER") or "root",
            private_key=self.private_key,
            max_parallel_actions=max_parallel,
            hostname=f"server-{server_id}",
            os_version_code="ubuntu_24_04",
        )
        if host_key is not None:
            self.pinned[server_id] = host_key
        else:
            self.pinned.pop(server_id, None)

    async def get_access(self, session: AsyncSession, server_id: int) -> ServerAccess | None:
        access = self.access.get(server_id)
        if access is None:
            return None
        return ServerAccess(
            **{**access.__dict__, "host_key": self.pinned.get(server_id),
               "secrets": tuple(self.secrets)}
        )

    async def pin_host_key(self, session: AsyncSession, server_id: int, host_key: str) -> None:
        self.pinned[server_id] = host_key

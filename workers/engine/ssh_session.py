"""Opening the SSH connection to a target's server: the outbound policy, host-key
pinning on first contact, and errors worded for the step log."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections.abc import Callable
from typing import Any, cast

import asyncssh

from app.actions.metrics import SSH_CONNECTION_ERRORS
from app.actions.targets import ServerAccess, server_access_provider
from app.core import outbound
from workers.engine.run import ActionRun, StepFailed


# Parsed once per process: an environment's key serves all of its servers.
@functools.lru_cache(maxsize=256)
def _private_key(text: str) -> asyncssh.SSHKey:
    return asyncssh.import_private_key(text)


@functools.lru_cache(maxsize=1024)
def _public_key(text: str) -> asyncssh.SSHKey:
    return asyncssh.import_public_key(text)


# Linux only; elsewhere the connection is made as asyncssh makes it.
_TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class _Coalescing(asyncio.Transport):
    """The socket's transport, with the packets asyncssh writes in one turn of the event
    loop sent in one system call at the end of that turn.

    asyncssh writes each SSH packet on its own: a step's program, its end of input and the
    window adjustments of its output were several sends each, and on loopback every send
    also runs the receiving side's TCP work and wakes sshd for one packet (the deploy
    benchmark's profile: a fifth of the engine's CPU at N = 50 was in those sends).
    Nothing waits longer than the turn that wrote it; closing and end of input flush first."""

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__()
        self._transport = transport
        self._pending: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()


class _Session(asyncio.Protocol):
    """Hands everything to asyncssh's connection, through a coalescing transport, and
    acknowledges each read at once (where TCP_QUICKACK exists)."""

    def __init__(self, inner: asyncio.Protocol) -> None:
        self.inner = inner
        self.sock: Any = None
        self.transport: _Coalescing | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if _TCP_QUICKACK is not None:
            self.sock = transport.get_extra_info("socket")
        # A cast, not a check: uvloop's transports behave as asyncio.Transport without
        # deriving from it.
        self.transport = _Coalescing(cast(asyncio.Transport, transport))
        self.inner.connection_made(self.transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class _Tunnel:
    """A direct TCP connection, given to asyncssh as its `tunnel`: writes coalesced per
    event-loop turn (`_Coalescing`), reads acknowledged at once rather than up to 40 ms
    later.

    OpenSSH's sshd leaves Nagle's algorithm on for sessions without a terminal. Right after
    authentication it sends a few small messages (a debug line, its host keys), and it
    holds its answer to our first channel open until those are acknowledged, which Linux
    delays by up to 40 ms: every target's first step waited that long (deploy benchmark,
    N = 1). TCP_QUICKACK after each read sends the pending ACK now. A wrapping protocol,
    because event loops (uvloop) bind the protocol's methods when the connection is made."""

    async def create_connection(
        self, session_factory: Callable[[], asyncio.Protocol], host: str, port: int
    ) -> tuple[asyncio.BaseTransport, asyncio.Protocol]:
        inner = session_factory()
        _, session = await asyncio.get_running_loop().create_connection(
            lambda: _Session(inner), host, port,
        )
        assert session.transport is not None
        return session.transport, inner


async def reload_access(run: ActionRun, server_id: int) -> ServerAccess | None:
    async with run.database.transaction() as session:
        return await server_access_provider().get_access(session, server_id)


async def connect(
    run: ActionRun, access: ServerAccess, *, pin: bool = True
) -> asyncssh.SSHClientConnection:
    if not access.host:
        raise StepFailed(f"Server {access.server_id} has no address yet: it cannot be reached.")
    key = _private_key(access.private_key)
    known_hosts: Any = None
    if access.host_key:
        known_hosts = ([_public_key(access.host_key)], [], [])
    try:
        # The outbound policy: the address checked is the address connected to.
        address = (await outbound.resolve(access.host, access.port, run.settings))[0]
    except outbound.OutboundRefused as exc:
        raise StepFailed(f"Will not connect to {access.host}:{access.port}: {exc}") from exc
    try:
        conn = await asyncio.wait_for(
            asyncssh.connect(
                address,
                access.port,
                username=access.username,
                client_keys=[key],
                known_hosts=known_hosts,
                agent_path=None,
                config=[],
                preferred_auth="publickey",
                encryption_algs=run.settings.ssh_encryption_algs.split(","),
                tunnel=_Tunnel(),
            ),
            run.settings.ssh_connect_timeout_seconds,
        )
    except asyncssh.HostKeyNotVerifiable as exc:
        SSH_CONNECTION_ERRORS.labels("host_key").inc()
        raise StepFailed(
            f"Host key verification failed for {access.host}:{access.port}: the server's "
            "host key changed since it was pinned on the first connection. If the server "
            "was rebuilt, update its host key; otherwise someone may be intercepting the "
            f"connection. ({exc.reason})"
        ) from exc
    except TimeoutError as exc:
        SSH_CONNECTION_ERRORS.labels("timeout").inc()
        raise StepFailed(
            f"Could not connect to {access.host}:{access.port}: timed out after "
            f"{run.settings.ssh_connect_timeout_seconds:g} seconds."
        ) from exc
    except (OSError, asyncssh.Error) as exc:
        SSH_CONNECTION_ERRORS.labels("refused_or_other").inc()
        raise StepFailed(f"Could not connect to {access.host}:{access.port}: {exc}") from exc
    if pin and not access.host_key:
        seen = conn.get_server_host_key()
        if seen is not None:
            pinned = seen.export_public_key("openssh").decode().strip()
            async with run.database.transaction() as session:
                await server_access_provider().pin_host_key(session, access.server_id, pinned)
    return conn

"""Opening the SSH connection to a target's server: the outbound policy, host-key
pinning on first contact, and errors worded for the step log."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

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

"""What the end-to-end cloud server tests share: the provider stand-ins' "instances" are
OS users on the loopback sshd, booted by authorising the keys the create request carried
(as cloud-init or a guest agent would); actions are awaited through the API."""

from __future__ import annotations

import asyncio
import os
import pwd
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.servers.models import Server
from tests import factories_credentials as fc


def authorize_key(user: str, public_key: str) -> None:
    """Append `public_key` to `user`'s authorized_keys, owned by them with sshd's modes."""
    entry = pwd.getpwnam(user)
    ssh = Path(entry.pw_dir) / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    keys = ssh / "authorized_keys"
    with keys.open("a") as fh:
        fh.write(public_key.strip() + "\n")
    for path in (ssh, keys):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    ssh.chmod(0o700)
    keys.chmod(0o600)


async def wait_action(
    client: httpx.AsyncClient, tenant: fc.Tenant, started: httpx.Response | int
) -> dict[str, Any]:
    """The action (by id, or the one a response started) once it has finished."""
    action_id = (started.headers["X-Devopness-Action-Id"]
                 if isinstance(started, httpx.Response) else started)
    r = await client.get(f"/actions/{action_id}", params={"wait": 120}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def stored_server(db: AsyncSession, server_id: int) -> Server | None:
    return await db.get(Server, server_id, populate_existing=True)


async def completes(
    client: httpx.AsyncClient, tenant: fc.Tenant, method: str, path: str, **kwargs: Any
) -> dict[str, Any]:
    """Call an operation endpoint (204 and an action) and return the completed action."""
    r = await client.request(method, path, headers=tenant.headers, **kwargs)
    assert r.status_code == 204, r.text
    done = await wait_action(client, tenant, r)
    assert done["status"] == "completed", done["status_reason_human_readable"]
    return done


async def power_cycle(
    client: httpx.AsyncClient, db: AsyncSession, tenant: fc.Tenant, server_id: int,
    calls: Callable[[], Sequence[Any]], expected: Mapping[str, Any],
) -> None:
    """Stop, start and restart through the API. After each, the provider's last recorded
    power call (`calls()[-1]`) is `expected[operation]` and the stored status follows."""
    for operation, status in (("stop", "stopped"), ("start", "running"),
                              ("restart", "running")):
        await completes(client, tenant, "POST", f"/servers/{server_id}/{operation}")
        assert calls()[-1] == expected[operation], (operation, list(calls()))
        # The status is written by the action's finish listener, a moment after the
        # action reads completed.
        server = await stored_server(db, server_id)
        for _ in range(50):
            if server is None or server.status == status:
                break
            await db.commit()
            await asyncio.sleep(0.1)
            server = await stored_server(db, server_id)
        assert server is not None and server.status == status, (operation, server and
                                                                 server.status)
        if operation == "stop":
            # Reading the status asks the provider: a stopped instance stays stopped
            # (servers/stop-server, then servers/get-server-status).
            await completes(client, tenant, "POST", f"/servers/{server_id}/get-status")
            await db.commit()
            server = await stored_server(db, server_id)
            assert server is not None and server.status == "stopped", server and server.status


async def delete_with_disks(
    client: httpx.AsyncClient, db: AsyncSession, tenant: fc.Tenant, server_id: int
) -> None:
    """Delete the server and its disks through the API; its record goes."""
    await completes(client, tenant, "DELETE", f"/servers/{server_id}",
                    params={"destroy_server_disks": "true"})
    assert await stored_server(db, server_id) is None

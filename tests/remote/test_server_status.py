from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.servers.models import Server
from tests.remote.conftest import Remote


async def test_get_status_reports_load_and_os(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    action = await remote.operate(client, f"/servers/{remote.server.id}/get-status")
    logs = await remote.logs(client, action)
    assert "load average" in logs
    await db.refresh(remote.server)
    server = await db.get(Server, remote.server.id)
    assert server is not None
    details = server.status_details or {}
    assert details["cpus"] >= 1
    assert details["memory_total_kb"] > 0
    assert server.status == "running"
    # The host key was pinned on the first connection.
    assert server.host_key == remote.host.host_key

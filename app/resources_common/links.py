"""Links between resources and the servers they run on."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.resources_common.models import ResourceServer


async def servers_for(session: AsyncSession, resource_type: str, resource_id: int) -> list[int]:
    """Ids of the servers the resource runs on (what an action targets), ascending.

    A server runs on itself; an SSL certificate runs wherever its virtual host runs.
    """
    if resource_type == "server":
        from app.servers.models import Server

        exists = await session.scalar(select(Server.id).where(Server.id == resource_id))
        return [] if exists is None else [resource_id]
    if resource_type == "ssl-certificate":
        from app.ssl_certificates.models import SslCertificate

        host_id = await session.scalar(
            select(SslCertificate.virtual_host_id).where(SslCertificate.id == resource_id)
        )
        if host_id is None:
            return []
        resource_type, resource_id = "virtual-host", host_id
    rows = await session.scalars(
        select(ResourceServer.server_id)
        .where(
            ResourceServer.resource_type == resource_type,
            ResourceServer.resource_id == resource_id,
        )
        .order_by(ResourceServer.server_id)
    )
    return list(rows)


async def link_servers(
    session: AsyncSession, resource_type: str, resource_id: int, server_ids: Iterable[int]
) -> None:
    existing = set(await servers_for(session, resource_type, resource_id))
    for server_id in dict.fromkeys(server_ids):
        if server_id not in existing:
            session.add(
                ResourceServer(
                    resource_type=resource_type, resource_id=resource_id, server_id=server_id
                )
            )
    await session.flush()


async def unlink_all(session: AsyncSession, resource_type: str, resource_id: int) -> None:
    await session.execute(
        delete(ResourceServer).where(
            ResourceServer.resource_type == resource_type,
            ResourceServer.resource_id == resource_id,
        )
    )


async def resources_on_server(session: AsyncSession, server_id: int) -> dict[str, int]:
    """How many resources of each type run on the server."""
    rows = await session.execute(
        select(ResourceServer.resource_type, func.count())
        .where(ResourceServer.server_id == server_id)
        .group_by(ResourceServer.resource_type)
    )
    return {str(t): int(n) for t, n in rows.all()}

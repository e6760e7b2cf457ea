"""Links between resources and the servers they run on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import ValidationFailed
from app.resources_common.models import ResourceServer

# Resources placed on servers by users (created with `linked_resources`, linked by
# `/resource-links`, or by deploying with `servers`). A server runs on itself and an SSL
# certificate on its virtual host's servers, so neither is linked to servers directly.
SERVER_LINKED_TYPES = frozenset(
    {"application", "cronjob", "daemon", "network-rule", "service", "ssh-key", "virtual-host"}
)


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


async def environment_servers(
    session: AsyncSession, environment_id: int, server_ids: Sequence[int], field: str
) -> list[int]:
    """`server_ids`, each checked to be a server of the environment (422 on `field.N`
    otherwise: a server elsewhere, even of another tenant, is named the same way)."""
    from app.servers.models import Server

    found = set(
        await session.scalars(
            select(Server.id).where(
                Server.environment_id == environment_id, Server.id.in_(list(server_ids))
            )
        )
    )
    for index, server_id in enumerate(server_ids):
        if server_id not in found:
            raise ValidationFailed.field(
                f"{field}.{index}", f"Server {server_id} does not exist in this environment."
            )
    return list(dict.fromkeys(server_ids))


async def link_deploy_targets(
    session: AsyncSession,
    resource_type: str,
    resource_id: int,
    environment_id: int,
    server_ids: Sequence[int] | None,
    *,
    link_first_server: bool,
) -> None:
    """A deploy links the servers it is asked to deploy to. With no `servers`, a resource
    linked to none is linked to the environment's server when `link_first_server` and the
    environment has exactly one (with several, the user chooses)."""
    if resource_type not in SERVER_LINKED_TYPES:
        return
    if server_ids is not None:
        wanted = await environment_servers(session, environment_id, server_ids, "servers")
        await link_servers(session, resource_type, resource_id, wanted)
        return
    if not link_first_server or await servers_for(session, resource_type, resource_id):
        return
    from app.servers.models import Server

    only = list(
        await session.scalars(
            select(Server.id).where(Server.environment_id == environment_id).limit(2)
        )
    )
    if len(only) == 1:
        await link_servers(session, resource_type, resource_id, only)


async def unlink_server(
    session: AsyncSession, resource_type: str, resource_id: int, server_id: int
) -> bool:
    """Remove one link; False when there was none."""
    result = await session.execute(
        delete(ResourceServer).where(
            ResourceServer.resource_type == resource_type,
            ResourceServer.resource_id == resource_id,
            ResourceServer.server_id == server_id,
        )
    )
    return bool(getattr(result, "rowcount", 0))

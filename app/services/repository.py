from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import Select, bindparam, select

from app.resources_common.models import ResourceServer
from app.resources_common.names import NamedResourceRepository
from app.resources_common.repository import Collection
from app.services.models import Service


class ServiceRepository(NamedResourceRepository[Service]):
    model = Service

    def collections(self) -> list[Collection]:
        return [Collection.of(Service.servers)]

    async def on_servers(self, environment_id: int, server_ids: Sequence[int]) -> list[Service]:
        """Services of the environment running on any of `server_ids` (compact form)."""
        if not server_ids:
            return []
        rows = await self.session.scalars(
            _on_servers(), {"environment_id": environment_id, "server_ids": list(server_ids)})
        return list(rows)


@cache
def _on_servers() -> Select[Service]:
    # Built once: every application read runs it, and building the statement and its cache
    # key cost more than running it.
    return (
        select(Service)
        .join(
            ResourceServer,
            (ResourceServer.resource_type == "service")
            & (ResourceServer.resource_id == Service.id),
        )
        .where(Service.environment_id == bindparam("environment_id"),
               ResourceServer.server_id.in_(bindparam("server_ids", expanding=True)))
        .distinct()
        .order_by(Service.id)
    )

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.resources_common.models import ResourceServer
from app.resources_common.names import NamedResourceRepository
from app.services.models import Service


class ServiceRepository(NamedResourceRepository[Service]):
    model = Service

    def options(self) -> list[LoaderOption]:
        return [*super().options(), selectinload(Service.servers)]

    async def on_servers(self, environment_id: int, server_ids: Sequence[int]) -> list[Service]:
        """Services of the environment running on any of `server_ids` (compact form)."""
        if not server_ids:
            return []
        rows = await self.session.scalars(
            select(Service)
            .join(
                ResourceServer,
                (ResourceServer.resource_type == "service")
                & (ResourceServer.resource_id == Service.id),
            )
            .where(Service.environment_id == environment_id,
                   ResourceServer.server_id.in_(server_ids))
            .distinct()
            .order_by(Service.id)
        )
        return list(rows)

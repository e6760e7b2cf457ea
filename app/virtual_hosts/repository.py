from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.resources_common.repository import EnvironmentResourceRepository
from app.virtual_hosts.models import VirtualHost


class VirtualHostRepository(EnvironmentResourceRepository[VirtualHost]):
    model = VirtualHost

    def options(self) -> list[LoaderOption]:
        return [
            *super().options(),
            selectinload(VirtualHost.application),
            selectinload(VirtualHost.ssl_certificate),
        ]

    async def name_taken(self, environment_id: int, name: str, exclude_id: int | None = None
                         ) -> bool:
        stmt = select(VirtualHost.id).where(
            VirtualHost.environment_id == environment_id, VirtualHost.name == name
        )
        if exclude_id is not None:
            stmt = stmt.where(VirtualHost.id != exclude_id)
        return (await self.session.scalar(stmt.limit(1))) is not None

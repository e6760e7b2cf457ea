from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.daemons.models import Daemon
from app.resources_common.repository import EnvironmentResourceRepository


class DaemonRepository(EnvironmentResourceRepository[Daemon]):
    model = Daemon

    def options(self) -> list[LoaderOption]:
        return [
            *super().options(),
            selectinload(Daemon.application),
            selectinload(Daemon.servers),
        ]

    async def name_taken(self, environment_id: int, name: str, exclude_id: int | None = None
                         ) -> bool:
        stmt = select(Daemon.id).where(Daemon.environment_id == environment_id,
                                       Daemon.name == name)
        if exclude_id is not None:
            stmt = stmt.where(Daemon.id != exclude_id)
        return (await self.session.scalar(stmt.limit(1))) is not None

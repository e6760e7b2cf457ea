from __future__ import annotations

from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.daemons.models import Daemon
from app.resources_common.names import NamedResourceRepository
from app.resources_common.repository import Collection


class DaemonRepository(NamedResourceRepository[Daemon]):
    model = Daemon

    def options(self) -> list[LoaderOption]:
        return [
            *super().options(),
            selectinload(Daemon.application),
        ]

    def collections(self) -> list[Collection]:
        return [Collection.of(Daemon.servers)]

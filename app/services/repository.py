from __future__ import annotations

from app.resources_common.names import NamedResourceRepository
from app.resources_common.repository import Collection
from app.services.models import Service


class ServiceRepository(NamedResourceRepository[Service]):
    model = Service

    def collections(self) -> list[Collection]:
        return [Collection.of(Service.servers)]

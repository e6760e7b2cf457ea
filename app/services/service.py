"""Services: software installed on servers (databases, web servers, runtimes)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.core.errors import ValidationFailed
from app.resources_common.service import (
    EnvironmentResourceService,
    check_body_id,
    linked_server_ids,
    ownership,
)
from app.services.models import Service
from app.services.repository import ServiceRepository
from app.services.schemas import ServiceEnvironmentCreate, ServiceUpdate


class ServiceService(EnvironmentResourceService[Service]):
    label = "Service"
    resource_type = "service"

    def __init__(self, session: AsyncSession) -> None:
        self.services = ServiceRepository(session)
        super().__init__(session, self.services)

    async def create(
        self, principal: Principal, environment_id: int, data: ServiceEnvironmentCreate
    ) -> Service:
        environment = await self.environment_for_create(principal, environment_id)
        name = f"{data.type}-{data.version}"
        if await self.services.name_taken(environment_id, name):
            raise ValidationFailed.field(
                "type", f"A {data.type} {data.version} service already exists in this environment."
            )
        server_ids = await linked_server_ids(
            self.session, environment_id, data.linked_resources, principal
        )
        service = Service(
            **ownership(environment, principal),
            name=name,
            type=data.type,
            version=data.version,
            auto_start=data.auto_start,
            initial_state=data.initial_state,
        )
        return await self.add_linked(service, server_ids)

    async def update(self, principal: Principal, service_id: int, data: ServiceUpdate) -> None:
        check_body_id(data.id, service_id)
        service = await self.get(principal, service_id, "update")
        if data.auto_start is not None:
            service.auto_start = data.auto_start
        if data.initial_state is not None:
            service.initial_state = data.initial_state
        await self.session.flush()

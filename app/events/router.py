from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.access.auth import CurrentPrincipal
from app.core.deps import ClientIP, SessionDep
from app.core.errors import NotFound
from app.core.pagination import PageDep
from app.events import schemas
from app.events.models import ResourceEvent
from app.events.service import EventService

router = APIRouter(tags=["Resource Events"])


def get_service(session: SessionDep) -> EventService:
    return EventService(session)


Service = Annotated[EventService, Depends(get_service)]
ResourceTypeParam = Annotated[str, Path(max_length=40)]


@router.get(
    "/events/{resource_type}/{resource_id:int}",
    operation_id="listResourceEventsByResourceType",
    response_model=list[schemas.ResourceEventRelation],
)
async def list_resource_events(
    resource_type: ResourceTypeParam,
    resource_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    service: Service,
    principal: CurrentPrincipal,
    page: PageDep,
) -> Sequence[ResourceEvent]:
    return await service.list_for(principal, resource_type, resource_id, page)


@router.post(
    "/events/{resource_type}/{resource_id}",
    operation_id="addResourceEvent",
    response_model=schemas.ResourceEvent,
)
async def add_resource_event(
    resource_type: ResourceTypeParam,
    resource_id: Annotated[str, Path(max_length=20)],
    service: Service,
    principal: CurrentPrincipal,
    ip: ClientIP,
) -> schemas.ResourceEvent:
    if not resource_id.isdigit() or not 1 <= int(resource_id) <= 2**31 - 1:
        raise NotFound("Resource not found.")
    ref, subscription = await service.process(principal, ip, resource_type, int(resource_id))
    return schemas.ResourceEvent(
        resource_type=ref.resource_type, resource_id=ref.id, resource_data=subscription
    )

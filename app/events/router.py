from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.access.auth import CurrentPrincipal
from app.access.routes import Route, add_routes, param
from app.core.deps import ClientIP, SessionDep
from app.core.errors import NotFound
from app.events import schemas
from app.events.service import EventService

router = APIRouter(tags=["Resource Events"])


async def get_service(session: SessionDep) -> EventService:
    return EventService(session)


Service = Annotated[EventService, Depends(get_service)]
ResourceTypeParam = Annotated[str, Path(max_length=40)]


add_routes(router, Service, [
    Route("GET", "/events/{resource_type}/{resource_id:int}", "listResourceEventsByResourceType",
          "list_for", list[schemas.ResourceEventRelation], paged=True, name="list_resource_events"),
], {"resource_type": ResourceTypeParam, "resource_id": Annotated[int, Path(ge=1, le=2**31 - 1)]})


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


add_routes(router, Service, [
    Route("POST", "/events/{resource_type}/{resource_id}", "addResourceEvent", add_resource_event,
          schemas.ResourceEvent, extra=(param("ip", ClientIP),)),
], {"resource_type": ResourceTypeParam, "resource_id": Annotated[str, Path(max_length=20)]})

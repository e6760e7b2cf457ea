from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from app.core.auth import CurrentPrincipal
from app.core.deps import ClientIP, SessionDep
from app.core.pagination import PageDep
from app.resource_links.schemas import LinkType, ResourceLinkRelation
from app.resource_links.service import ResourceLinkService
from app.resources_common.router import Route, add_routes

router = APIRouter(tags=["Resource Links"])


def get_service(session: SessionDep) -> ResourceLinkService:
    return ResourceLinkService(session)


Service = Annotated[ResourceLinkService, Depends(get_service)]
TypeName = Annotated[str, Path(max_length=40)]
ResourceId = Annotated[int, Path(ge=1, le=2**31 - 1)]


add_routes(router, Service, [
    Route("GET", "/resource-links/{resource_type}/{resource_id:int}",
          "listResourceLinksByResourceType", "list_links", list[ResourceLinkRelation], paged=True,
          name="list_resource_links"),
], {"resource_type": TypeName, "resource_id": ResourceId})


@router.get(
    "/resource-links/{resource_type}/{resource_id:int}/{link_type}",
    operation_id="listResourceLinksByResourceTypeAndLinkType",
    response_model=list[ResourceLinkRelation],
)
async def list_resource_links_by_type(
    resource_type: TypeName,
    resource_id: ResourceId,
    link_type: LinkType,
    service: Service,
    principal: CurrentPrincipal,
    page: PageDep,
    linked_resource_type: Annotated[str | None, Query(max_length=40)] = None,
) -> list[ResourceLinkRelation]:
    return await service.list_links(
        principal, resource_type, resource_id, page,
        link_type=link_type, linked_type=linked_resource_type,
    )


@router.post(
    "/resource-links/{resource_type}/{resource_id:int}/{child_type}/{child_id:int}/link",
    operation_id="linkResourceLinkToResourceLink",
    status_code=204,
    response_class=Response,
)
async def link_resources(
    resource_type: TypeName,
    resource_id: ResourceId,
    child_type: TypeName,
    child_id: ResourceId,
    service: Service,
    principal: CurrentPrincipal,
    ip: ClientIP,
) -> Response:
    await service.link(principal, ip, resource_type, resource_id, child_type, child_id)
    return Response(status_code=204)


@router.delete(
    "/resource-links/{resource_type}/{resource_id:int}/{child_type}/{child_id:int}/unlink",
    operation_id="unlinkResourceLinkFromResourceLink",
    status_code=204,
    response_class=Response,
)
async def unlink_resources(
    resource_type: TypeName,
    resource_id: ResourceId,
    child_type: TypeName,
    child_id: ResourceId,
    service: Service,
    principal: CurrentPrincipal,
    ip: ClientIP,
) -> Response:
    await service.unlink(principal, ip, resource_type, resource_id, child_type, child_id)
    return Response(status_code=204)

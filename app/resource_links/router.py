from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.core.deps import ClientIP, SessionDep
from app.resource_links.schemas import LinkType, ResourceLinkRelation
from app.resource_links.service import ResourceLinkService
from app.resources_common.router import Route, add_routes, param

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
    Route("GET", "/resource-links/{resource_type}/{resource_id:int}/{link_type}",
          "listResourceLinksByResourceTypeAndLinkType",
          lambda resource_type, resource_id, link_type, service, principal, page,
          linked_resource_type: service.list_links(
              principal, resource_type, resource_id, page, link_type=link_type,
              linked_type=linked_resource_type),
          list[ResourceLinkRelation], paged=True,
          extra=(param("linked_resource_type", Annotated[str | None, Query(max_length=40)], None),),
          name="list_resource_links_by_type"),
    Route("POST",
          "/resource-links/{resource_type}/{resource_id:int}/{child_type}/{child_id:int}/link",
          "linkResourceLinkToResourceLink",
          lambda resource_type, resource_id, child_type, child_id, service, principal, ip:
              service.link(principal, ip, resource_type, resource_id, child_type, child_id), None,
          204, extra=(param("ip", ClientIP),), name="link_resources"),
    Route("DELETE",
          "/resource-links/{resource_type}/{resource_id:int}/{child_type}/{child_id:int}/unlink",
          "unlinkResourceLinkFromResourceLink",
          lambda resource_type, resource_id, child_type, child_id, service, principal, ip:
              service.unlink(principal, ip, resource_type, resource_id, child_type, child_id), None,
          204, extra=(param("ip", ClientIP),), name="unlink_resources"),
], {
    "resource_type": TypeName,
    "resource_id": ResourceId,
    "link_type": LinkType,
    "child_type": TypeName,
    "child_id": ResourceId,
})

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from app.access.routes import Route, add_routes, param
from app.core.deps import ClientIP, SessionDep
from app.resource_links.schemas import LinkType, ResourceLinkRelation
from app.resource_links.service import ResourceLinkService

router = APIRouter(tags=["Resource Links"])


async def get_service(session: SessionDep) -> ResourceLinkService:
    return ResourceLinkService(session)


Service = Annotated[ResourceLinkService, Depends(get_service)]
TypeName = Annotated[str, Path(max_length=40)]
ResourceId = Annotated[int, Path(ge=1, le=2**31 - 1)]


CHILD = "/resource-links/{resource_type}/{resource_id:int}/{child_type}/{child_id:int}"


def _between(change: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """A link or unlink call: the resource, then the child it is linked to."""
    async def call(
        service: ResourceLinkService, principal: Any, ip: str, resource_type: str,
        resource_id: int, child_type: str, child_id: int,
    ) -> None:
        await change(service, principal, ip, resource_type, resource_id, child_type, child_id)
    return call


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
    # Linking and unlinking: the same path and parameters, one verb and service call each.
    *(Route(method, f"{CHILD}/{verb}", operation_id, _between(change), None, 204,
            extra=(param("ip", ClientIP),), name=name)
      for method, verb, operation_id, change, name in (
          ("POST", "link", "linkResourceLinkToResourceLink", ResourceLinkService.link,
           "link_resources"),
          ("DELETE", "unlink", "unlinkResourceLinkFromResourceLink", ResourceLinkService.unlink,
           "unlink_resources"),
      )),
], {
    "resource_type": TypeName,
    "resource_id": ResourceId,
    "link_type": LinkType,
    "child_type": TypeName,
    "child_id": ResourceId,
})

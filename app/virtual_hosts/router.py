from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.core.deps import SessionDep
from app.resources_common.router import Route, add_operation_routes, add_routes
from app.virtual_hosts import schemas
from app.virtual_hosts.service import VirtualHostService

router = APIRouter(tags=["Virtual Hosts"])


def get_service(session: SessionDep) -> VirtualHostService:
    return VirtualHostService(session)


Service = Annotated[VirtualHostService, Depends(get_service)]


add_routes(router, Service, [
    Route("GET", "/environments/{environment_id:int}/virtual-hosts", "listEnvironmentVirtualHosts",
          "list", list[schemas.VirtualHostRelation], paged=True),
    Route("POST", "/environments/{environment_id:int}/virtual-hosts", "addEnvironmentVirtualHost",
          "create", schemas.VirtualHost, 201, schemas.VirtualHostEnvironmentCreate),
    Route("GET", "/virtual-hosts/{virtual_host_id:int}", "getVirtualHost", "get",
          schemas.VirtualHost),
    Route("PUT", "/virtual-hosts/{virtual_host_id:int}", "updateVirtualHost", "update", None, 204,
          schemas.VirtualHostUpdate),
    Route("DELETE", "/virtual-hosts/{virtual_host_id:int}", "deleteVirtualHost", "delete", None,
          204),
])


add_operation_routes(
    router,
    "/virtual-hosts",
    "virtual_host_id",
    get_service,
    [("deploy", "deployVirtualHost"), ("get-status", "getStatusVirtualHost")],
)

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access.auth import CurrentPrincipal
from app.core.deps import SessionDep
from app.core.pagination import PageDep
from app.resources_common.router import add_operation_routes, no_content
from app.virtual_hosts import schemas
from app.virtual_hosts.models import VirtualHost
from app.virtual_hosts.service import VirtualHostService

router = APIRouter(tags=["Virtual Hosts"])


def get_service(session: SessionDep) -> VirtualHostService:
    return VirtualHostService(session)


Service = Annotated[VirtualHostService, Depends(get_service)]


@router.get(
    "/environments/{environment_id:int}/virtual-hosts",
    operation_id="listEnvironmentVirtualHosts",
    response_model=list[schemas.VirtualHostRelation],
)
async def list_environment_virtual_hosts(
    environment_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[VirtualHost]:
    return await service.list(principal, environment_id, page)


@router.post(
    "/environments/{environment_id:int}/virtual-hosts",
    operation_id="addEnvironmentVirtualHost",
    status_code=201,
    response_model=schemas.VirtualHost,
)
async def add_environment_virtual_host(
    environment_id: int,
    data: schemas.VirtualHostEnvironmentCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> VirtualHost:
    return await service.create(principal, environment_id, data)


@router.get(
    "/virtual-hosts/{virtual_host_id:int}",
    operation_id="getVirtualHost",
    response_model=schemas.VirtualHost,
)
async def get_virtual_host(
    virtual_host_id: int, service: Service, principal: CurrentPrincipal
) -> VirtualHost:
    return await service.get(principal, virtual_host_id)


@router.put(
    "/virtual-hosts/{virtual_host_id:int}", operation_id="updateVirtualHost", status_code=204,
    response_class=Response,
)
async def update_virtual_host(
    virtual_host_id: int,
    data: schemas.VirtualHostUpdate,
    service: Service,
    principal: CurrentPrincipal,
) -> Response:
    await service.update(principal, virtual_host_id, data)
    return no_content()


@router.delete(
    "/virtual-hosts/{virtual_host_id:int}", operation_id="deleteVirtualHost", status_code=204,
    response_class=Response,
)
async def delete_virtual_host(
    virtual_host_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, virtual_host_id)
    return no_content()


add_operation_routes(
    router,
    "/virtual-hosts",
    "virtual_host_id",
    get_service,
    [("deploy", "deployVirtualHost"), ("get-status", "getStatusVirtualHost")],
)

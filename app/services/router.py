from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access.auth import CurrentPrincipal
from app.core.deps import SessionDep
from app.core.pagination import PageDep
from app.resources_common.router import add_operation_routes, no_content
from app.services import schemas
from app.services.models import Service
from app.services.service import ServiceService

router = APIRouter(tags=["Services"])


def get_service(session: SessionDep) -> ServiceService:
    return ServiceService(session)


ServiceDep = Annotated[ServiceService, Depends(get_service)]


@router.get(
    "/environments/{environment_id:int}/services",
    operation_id="listEnvironmentServices",
    response_model=list[schemas.ServiceRelation],
)
async def list_environment_services(
    environment_id: int, service: ServiceDep, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Service]:
    return await service.list(principal, environment_id, page)


@router.post(
    "/environments/{environment_id:int}/services",
    operation_id="addEnvironmentService",
    status_code=201,
    response_model=schemas.Service,
)
async def add_environment_service(
    environment_id: int,
    data: schemas.ServiceEnvironmentCreate,
    service: ServiceDep,
    principal: CurrentPrincipal,
) -> Service:
    return await service.create(principal, environment_id, data)


@router.get(
    "/services/{service_id:int}", operation_id="getService", response_model=schemas.Service
)
async def get_service_by_id(
    service_id: int, service: ServiceDep, principal: CurrentPrincipal
) -> Service:
    return await service.get(principal, service_id)


@router.put(
    "/services/{service_id:int}", operation_id="updateService", status_code=204,
    response_class=Response,
)
async def update_service(
    service_id: int, data: schemas.ServiceUpdate, service: ServiceDep,
    principal: CurrentPrincipal,
) -> Response:
    await service.update(principal, service_id, data)
    return no_content()


@router.delete(
    "/services/{service_id:int}", operation_id="deleteService", status_code=204,
    response_class=Response,
)
async def delete_service(
    service_id: int, service: ServiceDep, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, service_id)
    return no_content()


add_operation_routes(
    router,
    "/services",
    "service_id",
    get_service,
    [
        ("deploy", "deployService"),
        ("get-status", "getStatusService"),
        ("reload", "reloadService"),
        ("restart", "restartService"),
        ("start", "startService"),
        ("stop", "stopService"),
    ],
)

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access.auth import CurrentPrincipal
from app.access.routes import no_content
from app.core.deps import SessionDep
from app.core.pagination import PageDep
from app.daemons import schemas
from app.daemons.models import Daemon
from app.daemons.service import DaemonService
from app.resources_common.router import add_operation_routes

router = APIRouter(tags=["Daemons"])


async def get_service(session: SessionDep) -> DaemonService:
    return DaemonService(session)


Service = Annotated[DaemonService, Depends(get_service)]


@router.get(
    "/environments/{environment_id:int}/daemons",
    operation_id="listEnvironmentDaemons",
    response_model=list[schemas.DaemonRelation],
)
async def list_environment_daemons(
    environment_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Daemon]:
    return await service.list(principal, environment_id, page)


@router.post(
    "/environments/{environment_id:int}/daemons",
    operation_id="addEnvironmentDaemon",
    status_code=201,
    response_model=schemas.Daemon,
)
async def add_environment_daemon(
    environment_id: int,
    data: schemas.DaemonEnvironmentCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> Daemon:
    return await service.create(principal, environment_id, data)


@router.get("/daemons/{daemon_id:int}", operation_id="getDaemon", response_model=schemas.Daemon)
async def get_daemon(daemon_id: int, service: Service, principal: CurrentPrincipal) -> Daemon:
    return await service.get(principal, daemon_id)


@router.put(
    "/daemons/{daemon_id:int}", operation_id="updateDaemon", status_code=204,
    response_class=Response,
)
async def update_daemon(
    daemon_id: int, data: schemas.DaemonUpdate, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.update(principal, daemon_id, data)
    return no_content()


@router.delete(
    "/daemons/{daemon_id:int}", operation_id="deleteDaemon", status_code=204,
    response_class=Response,
)
async def delete_daemon(daemon_id: int, service: Service, principal: CurrentPrincipal) -> Response:
    await service.delete(principal, daemon_id)
    return no_content()


add_operation_routes(
    router,
    "/daemons",
    "daemon_id",
    get_service,
    [
        ("deploy", "deployDaemon"),
        ("get-status", "getStatusDaemon"),
        ("restart", "restartDaemon"),
        ("start", "startDaemon"),
        ("stop", "stopDaemon"),
    ],
)

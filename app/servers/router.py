from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.core.auth import CurrentPrincipal
from app.core.deps import SessionDep
from app.core.errors import Unauthenticated
from app.core.pagination import PageDep
from app.resources_common.router import add_operation_routes, no_content
from app.servers import schemas
from app.servers.models import Server
from app.servers.service import ServerService

router = APIRouter(tags=["Servers"])


def get_service(session: SessionDep) -> ServerService:
    return ServerService(session)


Service = Annotated[ServerService, Depends(get_service)]


@router.get(
    "/environments/{environment_id:int}/servers",
    operation_id="listEnvironmentServers",
    response_model=list[schemas.ServerRelation],
)
async def list_environment_servers(
    environment_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Server]:
    return await service.list(principal, environment_id, page)


@router.post(
    "/environments/{environment_id:int}/servers",
    operation_id="addEnvironmentServer",
    status_code=201,
    response_model=schemas.Server,
)
async def add_environment_server(
    environment_id: int,
    data: schemas.ServerEnvironmentCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> Server:
    return await service.create(principal, environment_id, data)


@router.get("/servers/{server_id:int}", operation_id="getServer", response_model=schemas.Server)
async def get_server(server_id: int, service: Service, principal: CurrentPrincipal) -> Server:
    return await service.get(principal, server_id)


@router.put(
    "/servers/{server_id:int}",
    operation_id="updateServer",
    status_code=204,
    response_class=Response,
)
async def update_server(
    server_id: int, data: schemas.ServerUpdate, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.update(principal, server_id, data)
    return no_content()


@router.delete(
    "/servers/{server_id:int}",
    operation_id="deleteServer",
    status_code=204,
    response_class=Response,
)
async def delete_server(
    server_id: int,
    service: Service,
    principal: CurrentPrincipal,
    destroy_server_disks: bool = True,
) -> Response:
    # Self-hosted machines are only forgotten, never destroyed: the flag has nothing to do.
    del destroy_server_disks
    await service.delete(principal, server_id)
    return no_content()


@router.get(
    "/servers/{server_id:int}/commands",
    operation_id="getServerCommands",
    response_model=schemas.ServerCommand,
)
async def get_server_commands(
    server_id: int, service: Service, principal: CurrentPrincipal
) -> schemas.ServerCommand:
    return await service.commands(principal, server_id)


@router.post(
    "/servers/{server_id:int}/connect/{activation_token}",
    operation_id="connectServer",
    response_class=Response,
)
async def connect_server(server_id: int, activation_token: str) -> Response:
    # Machines are connected by authorising the environment's SSH key (see
    # getServerCommands); this server issues no activation tokens, so none is valid.
    del server_id, activation_token
    raise Unauthenticated("The activation token is invalid.")


add_operation_routes(
    router,
    "/servers",
    "server_id",
    get_service,
    [
        ("deploy", "deployServer"),
        ("get-status", "getStatusServer"),
        ("restart", "restartServer"),
        ("rotate-key", "rotateKeyServer"),
        ("start", "startServer"),
        ("stop", "stopServer"),
    ],
)

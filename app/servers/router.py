from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.core.auth import CurrentPrincipal
from app.core.deps import SessionDep, SettingsDep
from app.core.pagination import PageDep
from app.resources_common.operations import ACTION_ID_HEADER
from app.resources_common.router import action_response, add_operation_routes, no_content
from app.servers import schemas
from app.servers.models import Server
from app.servers.service import ServerService

router = APIRouter(tags=["Servers"])


async def get_service(session: SessionDep, settings: SettingsDep) -> ServerService:
    return ServerService(session, settings)


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
    response: Response,
) -> Server:
    server = await service.create(principal, environment_id, data)
    if service.last_action_id is not None:
        # A cloud server: the action that creates and provisions its instance.
        response.headers[ACTION_ID_HEADER] = str(service.last_action_id)
    return server


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
    # Self-hosted machines are only forgotten, never destroyed; a cloud server's instance is
    # destroyed by an action (the record goes once the provider confirms).
    action_id = await service.delete_server(
        principal, server_id, destroy_disks=destroy_server_disks
    )
    return no_content() if action_id is None else action_response(action_id)


@router.get(
    "/servers/{server_id:int}/commands",
    operation_id="getServerCommands",
    response_model=schemas.ServerCommand,
)
async def get_server_commands(
    server_id: int, service: Service, principal: CurrentPrincipal, request: Request,
    settings: SettingsDep,
) -> schemas.ServerCommand:
    # The machine calls back the API where the operator configured it to be reached;
    # without PUBLIC_URL, where this request reached it.
    base = settings.public_url if "public_url" in settings.model_fields_set else str(
        request.base_url
    )
    return await service.commands(principal, server_id, base)


@router.post(
    "/servers/{server_id:int}/connect/{activation_token}",
    operation_id="connectServer",
    response_class=Response,
)
async def connect_server(
    server_id: int,
    activation_token: Annotated[str, Path(max_length=200)],
    service: Service,
    ssh_user: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z_][a-z0-9_-]{0,31}$",
            description="Extension: the OS user the connect command authorised (it sends "
            "it); actions log in as this user from now on.",
        ),
    ] = None,
) -> Response:
    action_id = await service.connect(server_id, activation_token, ssh_user)
    return Response(
        "Server successfully connected",
        media_type="text/plain",
        headers={ACTION_ID_HEADER: str(action_id)},
    )


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

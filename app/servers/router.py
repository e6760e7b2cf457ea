from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.access.auth import CurrentPrincipal
from app.access.routes import Route, add_routes, no_content, param
from app.core.deps import SessionDep, SettingsDep
from app.resources_common.operations import ACTION_ID_HEADER
from app.resources_common.router import action_response, add_operation_routes
from app.servers import schemas
from app.servers.models import Server
from app.servers.service import ServerService

router = APIRouter(tags=["Servers"])


async def get_service(session: SessionDep, settings: SettingsDep) -> ServerService:
    return ServerService(session, settings)


Service = Annotated[ServerService, Depends(get_service)]


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


add_routes(router, Service, [
    Route("GET", "/environments/{environment_id:int}/servers", "listEnvironmentServers", "list",
          list[schemas.ServerRelation], paged=True),
    Route("POST", "/environments/{environment_id:int}/servers", "addEnvironmentServer",
          add_environment_server, schemas.Server, 201, schemas.ServerEnvironmentCreate,
          extra=(param("response", Response),)),
    Route("GET", "/servers/{server_id:int}", "getServer", "get", schemas.Server),
    Route("PUT", "/servers/{server_id:int}", "updateServer", "update", None, 204,
          schemas.ServerUpdate),
    Route("DELETE", "/servers/{server_id:int}", "deleteServer", delete_server, None, 204,
          extra=(param("destroy_server_disks", bool, True),)),
    Route("GET", "/servers/{server_id:int}/commands", "getServerCommands", get_server_commands,
          schemas.ServerCommand, extra=(param("request", Request), param("settings", SettingsDep))),
])


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

"""HTTP pieces shared by the routers of environment resources: operation routes that answer
with the action they started, and the whole route table of a plain environment resource.
The route-table mechanism itself (`Route`, `add_routes`) is `app.access.routes`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from app.access.auth import CurrentPrincipal
from app.access.routes import Route, add_routes, item_routes
from app.resources_common.operations import ACTION_ID_HEADER
from app.resources_common.schemas import OperationRequest


def action_response(action_id: int, status_code: int = 204) -> Response:
    """An operation's answer: the documented status and the id of the action it started."""
    return Response(status_code=status_code, headers={ACTION_ID_HEADER: str(action_id)})


def add_operation_routes(
    router: APIRouter,
    prefix: str,
    param: str,
    get_service: Callable[..., Any],
    operations: list[tuple[str, str]],
) -> None:
    """POST `{prefix}/{operation}` for each (operation, operationId): 204 with the action id."""

    for operation, operation_id in operations:

        def make(operation: str) -> Callable[..., Awaitable[Response]]:
            async def endpoint(
                principal: CurrentPrincipal,
                resource_id: int = Path(alias=param),
                service: Any = Depends(get_service),
                body: OperationRequest | None = None,
            ) -> Response:
                action_id = await service.operation(principal, resource_id, operation, body)
                return action_response(action_id)

            return endpoint

        router.add_api_route(
            f"{prefix}/{{{param}:int}}/{operation}",
            make(operation),
            methods=["POST"],
            operation_id=operation_id,
            status_code=204,
            response_class=Response,
            name=operation_id,
        )


def environment_resource_routes(
    collection: str,
    param: str,
    word: str,
    plural: str,
    schemas: tuple[Any, Any, Any, Any | None],
    names: Mapping[str, str] | None = None,
) -> list[Route]:
    """The routes every environment resource has, in this order: list and add under its
    environment (`listEnvironment<plural>`, `addEnvironment<word>`), then `item_routes`.
    `schemas` is (resource, relation, create, update); without an update schema there is no
    update route. `names` renames endpoints by operation id. Services answer `list`,
    `create`, `get`, `update` and `delete`."""
    model, relation, create, update = schemas
    under = f"/environments/{{environment_id:int}}/{collection}"
    routes = [
        Route("GET", under, f"listEnvironment{plural}", "list", list[relation],  # type: ignore[valid-type]
              paged=True),
        Route("POST", under, f"addEnvironment{word}", "create", model, 201, create),
        *item_routes(collection, param, word, model, update),
    ]
    return [replace(r, name=(names or {}).get(r.operation_id)) for r in routes]


def environment_resource_router(
    tag: str,
    get_service: Callable[..., Any],
    family: tuple[str, str, str],
    schemas: tuple[Any, Any, Any, Any | None],
    operations: list[tuple[str, str]],
    names: Mapping[str, str] | None = None,
) -> APIRouter:
    """The whole HTTP surface of an environment resource that has nothing else: its
    `environment_resource_routes` (`family` is their collection, id parameter and word; the
    plural adds an "s") and its operations (`add_operation_routes`), all tagged `tag`."""
    collection, param, word = family
    router = APIRouter(tags=[tag])
    service = Annotated[Any, Depends(get_service)]
    add_routes(router, service,
               environment_resource_routes(collection, param, word, f"{word}s", schemas, names))
    add_operation_routes(router, f"/{collection}", param, get_service, operations)
    return router

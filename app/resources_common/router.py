"""HTTP pieces shared by resource routers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Path, Response

from app.access.auth import CurrentPrincipal
from app.resources_common.operations import ACTION_ID_HEADER
from app.resources_common.schemas import OperationRequest


def action_response(action_id: int, status_code: int = 204) -> Response:
    """An operation's answer: the documented status and the id of the action it started."""
    return Response(status_code=status_code, headers={ACTION_ID_HEADER: str(action_id)})


def no_content() -> Response:
    return Response(status_code=204)


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

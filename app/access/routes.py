"""Route tables: a family whose routes differ only in names, paths and service calls is
written as a list of `Route`s and registered by `add_routes`, which builds each endpoint's
signature (path ids, body, the service, the calling principal, paging) for FastAPI.

It lives with access because every route binds its endpoint to the caller
(`CurrentPrincipal`); tenancy and resource families alike build their routers with it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from fastapi import APIRouter, Response
from fastapi.datastructures import Default
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter

from app.access.auth import CurrentPrincipal
from app.core.pagination import PageDep


def no_content() -> Response:
    return Response(status_code=204)


_PATH_PARAM = re.compile(r"{(\w+)(:int)?}")


def _snake(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


def param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    """A parameter a route takes besides its path ids, body and the usual dependencies."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                             default=default)


@dataclass(frozen=True)
class Route:
    """One route of a family, as FastAPI is told it and the service call behind it.

    The endpoint takes, in this order: the path's parameters (`{x:int}` an int, `{x}` a
    string, unless the family types them), `data` (the body, if any), `service`,
    `principal` (none with `principal=None`: a route anyone may call), `page` (lists) and
    `extra`. `call` is a service method's name, called with the principal then the rest in
    that order, or a function called with them by name. A route answers what the call
    returns; a 202 or 204 route without a response model whose call returns no response
    answers its status with an empty body.
    """

    method: str
    path: str
    operation_id: str
    call: str | Callable[..., Awaitable[Any]]
    response_model: Any = None
    status_code: int | None = None
    body: Any = None
    paged: bool = False
    extra: tuple[inspect.Parameter, ...] = ()
    principal: Any = CurrentPrincipal
    tags: tuple[str, ...] = ()
    # The endpoint's name, FastAPI's default summary ("list_teams" -> "List Teams"); the
    # operation id in snake case unless given.
    name: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def add_routes(
    router: APIRouter,
    service: Any,
    routes: Sequence[Route],
    path_types: Mapping[str, Any] | None = None,
) -> None:
    """Register each route of a table on `router`, in order (the order FastAPI matches in).
    `service` is the family's service dependency; `path_types` types path parameters by
    name (`Annotated[int, Path(ge=1)]`...)."""
    for route in routes:
        router.add_api_route(
            route.path,
            _endpoint(route, service, path_types or {}),
            methods=[route.method],
            operation_id=route.operation_id,
            name=route.name or _snake(route.operation_id),
            response_model=route.response_model,
            status_code=route.status_code,
            tags=list(route.tags) or None,
            response_class=Response if _empty(route) else Default(JSONResponse),
            **route.options,
        )


def _empty(route: Route) -> bool:
    """Whether the route answers its status alone (accepted, or done with nothing to say)."""
    return route.status_code in (202, 204) and route.response_model is None


def _endpoint(
    route: Route, service: Any, path_types: Mapping[str, Any]
) -> Callable[..., Awaitable[Any]]:
    keyword = inspect.Parameter.KEYWORD_ONLY
    ids = [
        inspect.Parameter(name, keyword, annotation=path_types.get(name, int if typed else str))
        for name, typed in _PATH_PARAM.findall(route.path)
    ]
    body = [inspect.Parameter("data", keyword, annotation=route.body)] if route.body else []
    deps = [inspect.Parameter("service", keyword, annotation=service)]
    if route.principal is not None:
        deps.append(inspect.Parameter("principal", keyword, annotation=route.principal))
    page = [inspect.Parameter("page", keyword, annotation=PageDep)] if route.paged else []
    passed = [p.name for p in (*ids, *body, *page, *route.extra)]
    call = route.call
    answer = _Answer.of(route)
    # FastAPI's own sub-response, where dependencies (paging) leave their headers. FastAPI
    # fills one parameter of that type: a route whose call takes it already has it.
    given = [p.name for p in route.extra if p.annotation is Response]
    sub_name = given[0] if given else _SUB_RESPONSE
    sub_response = [] if given else [
        inspect.Parameter(_SUB_RESPONSE, keyword, annotation=Response)]

    async def endpoint(**values: Any) -> Any:
        headers: Response = values[sub_name] if given else values.pop(_SUB_RESPONSE)
        if isinstance(call, str):
            method = getattr(values["service"], call)
            principal = [values["principal"]] if route.principal is not None else []
            result = await method(*principal, *(values[name] for name in passed))
        else:
            result = await call(**values)
        if _empty(route) and not isinstance(result, Response):
            return Response(status_code=route.status_code or 204)
        if answer is not None and answer.fits(result):
            return answer.response(result, headers)
        return result

    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*ids, *body, *deps, *page, *route.extra, *sub_response],
        return_annotation=Response if _empty(route) else Any,
    )
    endpoint.__name__ = route.name or _snake(route.operation_id)
    return endpoint


_SUB_RESPONSE = "_sub_response"


class _Answer:
    """Writes a route's response model straight to JSON when the call already built it.

    FastAPI would dump the model to a dict, validate that dict back into the same model and
    only then serialize it: for a large answer (an action's hundreds of steps) that round
    trip cost more than reading the rows. What the services build is a validated instance
    of the very model the route declares, so only those are written directly; anything else
    (another class, ORM rows, dicts) still goes through FastAPI's validation.
    """

    def __init__(self, model: type[BaseModel] | None, item: type[BaseModel] | None,
                 status_code: int) -> None:
        self._model = model
        self._item = item
        self._status_code = status_code
        self._adapter: TypeAdapter[Any] = TypeAdapter(list[item] if item else model)  # type: ignore[valid-type]

    @classmethod
    def of(cls, route: Route) -> _Answer | None:
        model = route.response_model
        if isinstance(model, type) and issubclass(model, BaseModel):
            return cls(model, None, route.status_code or 200)
        if get_origin(model) is list:
            (item,) = get_args(model)
            if isinstance(item, type) and issubclass(item, BaseModel):
                return cls(None, item, route.status_code or 200)
        return None

    def fits(self, result: Any) -> bool:
        if self._model is not None:
            return type(result) is self._model
        item = self._item
        return isinstance(result, list) and all(type(one) is item for one in result)

    def response(self, result: Any, sub_response: Response) -> Response:
        answer = Response(self._adapter.dump_json(result, by_alias=True),
                          status_code=sub_response.status_code or self._status_code,
                          media_type="application/json")
        for name, value in sub_response.raw_headers:
            if name != b"content-length":
                answer.raw_headers.append((name, value))
        return answer


def item_routes(
    collection: str, param: str, word: str, model: Any, update: Any | None,
    tags: tuple[str, ...] = (),
) -> list[Route]:
    """Get, update (when there is an update schema) and delete by id, at
    `/<collection>/{<param>:int}` (`get<word>`, `update<word>`, `delete<word>`): the service
    answers `get`, `update` and `delete`."""
    item = f"/{collection}/{{{param}:int}}"
    return [
        Route("GET", item, f"get{word}", "get", model, tags=tags),
        *([Route("PUT", item, f"update{word}", "update", None, 204, update, tags=tags)]
          if update else []),
        Route("DELETE", item, f"delete{word}", "delete", None, 204, tags=tags),
    ]



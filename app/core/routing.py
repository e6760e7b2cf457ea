"""Route dispatch indexed by a path's first segment.

Starlette tries every route of a router in order until one matches. With some 250 routes a
request for `/actions/{id}` paid about 400 µs of regular-expression matching before it
reached its handler (a fifth of a small read's CPU). A route whose first path segment is
literal can only match a path with that same first segment, so the index hands each request
to a shard of the router holding just those routes, plus the routes that may match any first
segment (a parameter there, mounts, hosts), in their original order. First-match order,
`405` from a partial match, the trailing-slash redirect (which keeps the first segment) and
the `404` therefore behave as in the full router.
"""

from __future__ import annotations

import copy

from fastapi import FastAPI
from fastapi.routing import APIRouter
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send


def _first_segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") else ""


def _literal_first_segment(route: BaseRoute) -> str | None:
    """The route's first path segment when it is fixed text, else None (it may match any)."""
    if not isinstance(route, Route):
        return None
    segment = _first_segment(route.path)
    return None if "{" in segment else segment


class RouteIndex:
    """ASGI dispatch for `router`: the shard of routes the path's first segment can reach."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._indexed: tuple[int, int] | None = None
        self._shards: dict[str, APIRouter] = {}
        self._any: APIRouter = router

    def _shard(self, routes: list[BaseRoute]) -> APIRouter:
        # A shallow copy shares the router's settings (default 404, slash redirects, form
        # limits, dependency overrides) and differs only in the routes it tries.
        shard = copy.copy(self.router)
        shard.routes = routes
        return shard

    def _build(self) -> None:
        routes = self.router.routes
        by_segment: dict[str, list[BaseRoute]] = {}
        anywhere: list[BaseRoute] = []
        for route in routes:
            segment = _literal_first_segment(route)
            if segment is None:
                anywhere.append(route)
                for bucket in by_segment.values():
                    bucket.append(route)
            else:
                if segment not in by_segment:
                    by_segment[segment] = list(anywhere)
                by_segment[segment].append(route)
        self._shards = {segment: self._shard(bucket) for segment, bucket in by_segment.items()}
        self._any = self._shard(anywhere)
        self._indexed = (id(routes), len(routes))

    def shard_for(self, scope: Scope) -> APIRouter:
        """The router holding every route that can match the request of `scope`."""
        routes = self.router.routes
        if self._indexed != (id(routes), len(routes)):
            # Routes are added while the app is assembled (tests and plugins add more).
            self._build()
        return self._shards.get(_first_segment(get_route_path(scope)), self._any)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router.app(scope, receive, send)
            return
        # Code that resolves URLs from the scope's router must see every route.
        scope.setdefault("router", self.router)
        await self.shard_for(scope).app(scope, receive, send)


def index_routes(app: FastAPI) -> None:
    """Serve `app`'s requests through a RouteIndex (the router's own middleware, if any, is
    kept outside it)."""
    router = app.router
    if router.middleware_stack != router.app:
        raise RuntimeError("the router has middleware of its own; index inside it")
    router.middleware_stack = RouteIndex(router)

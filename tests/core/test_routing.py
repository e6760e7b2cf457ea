"""The route index dispatches every request exactly as trying every route in order would.

Two views: a small app served over HTTP whose routes answer with their own name (literal and
parameter first segments interleaved, a 405, a trailing-slash redirect, a 404, a mount), and
every route of the real app, where for sample paths and methods the index's shard must pick
the same route as the full route list.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from app.core.routing import RouteIndex, index_routes
from app.main import create_app

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def _named_app() -> FastAPI:
    app = FastAPI()

    def answer(name: str):  # type: ignore[no-untyped-def]
        async def endpoint() -> dict[str, str]:
            return {"route": name}

        return endpoint

    app.get("/users/me")(answer("me"))
    # A parameter in the first segment sits between two literal routes: it must still lose
    # to the first and win over the second, as in the full list.
    app.get("/{kind}/me")(answer("kind-me"))
    app.get("/users/{user_id}")(answer("user"))
    app.get("/teams/{team_id}")(answer("team"))
    app.put("/users/{user_id}")(answer("user-put"))
    app.get("/projects/")(answer("projects-slash"))
    app.get("/projects/{project_id:int}")(answer("project"))
    sub = FastAPI()
    sub.get("/ping")(answer("mounted"))
    app.mount("/tools", sub)
    index_routes(app)
    return app


@pytest.fixture
async def named() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_named_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "status", "route"),
    [
        ("GET", "/users/me", 200, "me"),
        ("GET", "/teams/me", 200, "kind-me"),
        ("GET", "/teams/5", 200, "team"),
        ("GET", "/users/7", 200, "user"),
        ("PUT", "/users/7", 200, "user-put"),
        ("GET", "/projects/3", 200, "project"),
        ("GET", "/projects/", 200, "projects-slash"),
        ("GET", "/tools/ping", 200, "mounted"),
    ],
)
async def test_requests_reach_the_route_the_full_list_would(
    named: httpx.AsyncClient, method: str, path: str, status: int, route: str
) -> None:
    response = await named.request(method, path)
    assert response.status_code == status
    assert response.json() == {"route": route}


async def test_a_wrong_method_a_missing_slash_and_an_unknown_path(
    named: httpx.AsyncClient,
) -> None:
    assert (await named.delete("/users/7")).status_code == 405
    redirect = await named.get("/projects")
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "http://t/projects/"
    assert (await named.get("/nowhere/at/all")).status_code == 404
    assert (await named.get("/projects/not-a-number")).status_code == 404


async def test_routes_added_after_the_first_request_are_served(
    named: httpx.AsyncClient,
) -> None:
    app = named._transport.app  # type: ignore[attr-defined]
    assert (await named.get("/late")).status_code == 404

    async def late() -> dict[str, str]:
        return {"route": "late"}

    app.get("/late")(late)
    assert (await named.get("/late")).json() == {"route": "late"}


def _sample_path(route: Route) -> str:
    def value(match: re.Match[str]) -> str:
        return "7" if match.group(0).endswith(":int}") else "x7"

    return re.sub(r"\{[^}]*\}", value, route.path)


def _first_match(routes: list[BaseRoute], scope: Scope) -> tuple[BaseRoute | None, Match]:
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route, match
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial, Match.PARTIAL if partial is not None else Match.NONE


def test_every_route_of_the_app_is_chosen_as_by_the_full_list() -> None:
    app = create_app()
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    routes = app.router.routes
    paths = {_sample_path(route) for route in routes if isinstance(route, Route)}
    paths |= {path + "/" for path in paths} | {"/", "/unknown", "/users/x7/unknown"}
    checked = 0
    for path in sorted(paths):
        for method in METHODS:
            scope: Scope = {"type": "http", "path": path, "method": method, "root_path": ""}
            chosen, how = _first_match(index.shard_for(scope).routes, scope)
            expected, expected_how = _first_match(routes, scope)
            assert chosen is expected and how is expected_how, (method, path)
            checked += 1
    assert checked > 1000

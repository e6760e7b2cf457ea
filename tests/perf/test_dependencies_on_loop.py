"""FastAPI runs a plain `def` dependency in its threadpool: a thread hand-off per dependency
per request, which under load costs more than most of the dependencies' work (profiles of
the read benchmark, benchmarks/api.py). Read paths resolve their dependencies on the event
loop: this lists every dependency a route resolves and fails on a synchronous one.

Not yet converted (the lead converts them with their domains): the `get_service` of the
routers listed in PENDING; a new synchronous dependency anywhere else fails here.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant

from app.core.settings import Settings
from app.main import create_app

PENDING = {"app.core.deps.get_database"}


def _routes(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)
        else:
            yield route


def _synchronous(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        yield from _synchronous(sub)
        call = sub.call
        if call is None:
            continue
        if not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)
                or inspect.iscoroutinefunction(type(call).__call__)):
            yield f"{call.__module__}.{call.__qualname__}"


def test_route_dependencies_run_on_the_event_loop(settings: Settings) -> None:
    app = create_app(settings)
    found: dict[str, set[str]] = {}
    for route in _routes(app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        for name in set(_synchronous(dependant)) - PENDING:
            found.setdefault(name, set()).add(f"{sorted(route.methods)[0]} {route.path}")
    assert not found, "synchronous dependencies (run in the threadpool): " + "; ".join(
        f"{name} in {len(paths)} routes, e.g. {sorted(paths)[0]}"
        for name, paths in sorted(found.items())
    )

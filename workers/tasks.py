"""Thin Celery tasks: they take ids and hand them to the engine."""

from __future__ import annotations

import asyncio
import atexit

from app.actions.bus import RedisBus, set_bus
from app.actions.dispatch import RUN_ACTION
from app.core.database import Database
from app.core.settings import get_settings
from app.wiring import load_plugins, register_all
from workers.celery_app import celery_app
from workers.engine.executor import run_action as run_action_in_engine
from workers.engine.reaper import reap as reap_in_engine

# One event loop and one connection pool per worker process, created after the fork and
# reused by every task, so a warm worker starts an action without reconnecting.
_loop: asyncio.Runner | None = None
_database: Database | None = None


def _run(coro_factory: object) -> object:
    global _loop, _database
    if _loop is None:
        _loop = asyncio.Runner()
        atexit.register(_loop.close)
    if _database is None:
        settings = get_settings()
        register_all(settings)
        load_plugins(settings.engine_plugins)
        _database = Database(settings)
        if settings.redis_url:
            from redis.asyncio import Redis

            async def make_bus() -> None:
                set_bus(RedisBus(Redis.from_url(settings.redis_url or "")))

            _loop.run(make_bus())
    database = _database
    return _loop.run(coro_factory(database))  # type: ignore[operator]


@celery_app.task(name="devopness.ping")  # type: ignore[untyped-decorator]
def ping() -> str:
    """Liveness probe used by readiness checks: answers when a worker is consuming."""
    return "pong"


@celery_app.task(name=RUN_ACTION, acks_late=True)  # type: ignore[untyped-decorator]
def run_action(action_id: int) -> str | None:
    result = _run(lambda database: run_action_in_engine(database, action_id))
    return result if isinstance(result, str) else None


@celery_app.task(name="devopness.reap_actions")  # type: ignore[untyped-decorator]
def reap_actions() -> int:
    result = _run(lambda database: reap_in_engine(database))
    return len(result) if isinstance(result, list) else 0

"""create_app(): the FastAPI application with its routers, error handlers and middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from app.actions import dispatch
from app.actions.bus import MemoryBus, RedisBus, set_bus
from app.actions.router import router as actions_router
from app.actions.targets import load_plugins
from app.core.auth import PrincipalCache
from app.core.database import Database
from app.core.errors import install_error_handlers
from app.core.mail import Mailer
from app.core.middleware import RequireJSONBody
from app.core.ratelimit import Counter, MemoryCounter, RedisCounter
from app.core.settings import Settings, get_settings
from app.environments.router import router as environments_router
from app.organizations.router import router as organizations_router
from app.projects.router import router as projects_router
from app.roles.router import router as roles_router
from app.teams.router import router as teams_router
from app.tokens.router import router as tokens_router
from app.users.router import router as users_router

# Order matters where literal segments and parameters share a position:
# /users/personal-access-tokens and /users/team-invitations must be matched before
# /users/{user_id}.
ROUTERS = [
    tokens_router,
    teams_router,
    users_router,
    organizations_router,
    projects_router,
    environments_router,
    roles_router,
    actions_router,
]

DESCRIPTION = """Self-hosted server for the Devopness REST API.

Point any Devopness client (SDKs, MCP server, scripts) at this server's URL.
Authenticate with `Authorization: Bearer <token>`: a login access token, a personal access
token or a project API token.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    # State is built here, not in the lifespan, so in-process test transports that skip
    # lifespan events get a working app; nothing here opens a connection yet.
    database = Database(settings)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    counter: Counter = RedisCounter(redis) if redis is not None else MemoryCounter()
    set_bus(RedisBus(redis) if redis is not None else MemoryBus())
    load_plugins(settings.engine_plugins)
    runner = None
    if settings.redis_url:
        dispatch.set_dispatcher(dispatch.celery_dispatch)
    else:
        # Embedded default: actions run as asyncio tasks of this process.
        from workers.engine.runner import InProcessRunner

        runner = InProcessRunner(database, settings)
        dispatch.set_dispatcher(runner.submit)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                await runner.shutdown()
            await database.dispose()
            if redis is not None:
                await redis.aclose()

    app = FastAPI(
        title="Devopness Server API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.mailer = Mailer(settings)
    app.state.counter = counter
    app.state.principal_cache = PrincipalCache()
    app.state.redis = redis
    app.state.runner = runner
    install_error_handlers(app)
    app.add_middleware(RequireJSONBody)
    for router in ROUTERS:
        app.include_router(router)
    return app

"""Request-scoped dependencies shared by every router, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import Database
from app.core.mail import Mailer
from app.core.ratelimit import Counter
from app.core.settings import Settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    # scope="function" below: the commit happens before the response is sent, so a failed
    # commit becomes an error response instead of a lie.
    reads_first = request.method in ("GET", "HEAD")
    async with get_database(request).transaction(reads_first=reads_first) as session:
        yield session


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


async def get_counter(request: Request) -> Counter:
    counter: Counter = request.app.state.counter
    return counter


async def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
MailerDep = Annotated[Mailer, Depends(get_mailer)]
CounterDep = Annotated[Counter, Depends(get_counter)]
ClientIP = Annotated[str, Depends(client_ip)]

"""Who is calling: resolves the bearer token into a Principal.

Three kinds of bearer: a login JWT (bound to a revocable session), a personal access token
(acts as its user) and a project API token (its project only, its role's permissions).
A resolved token is reused by an API process under the database's access generation
(app/core/changes.py): every request reads that generation first, and a revocation, an
expiry change, a deactivated user or a role change, committed by any writer, moves it, so
the next request on every process resolves the token again (`ACCESS_CACHE_SECONDS`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.changes import AccessCache
from app.core.deps import SessionDep
from app.core.errors import Forbidden, Unauthenticated
from app.core.security import decode_access_token, hash_token, looks_like_jwt
from app.core.settings import Settings
from app.roles.models import Role
from app.tokens.models import ApiToken, ApiTokenType
from app.users.models import AuthSession, User

LAST_USED_RESOLUTION = timedelta(seconds=60)


class PrincipalKind(enum.StrEnum):
    SESSION = "session"
    PERSONAL_ACCESS_TOKEN = "personal_access_token"
    PROJECT_API_TOKEN = "project_api_token"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    user_id: int
    session_id: int | None = None
    token_id: str | None = None
    project_id: int | None = None
    # Only for project tokens: the role's permissions bound what the token may do.
    permissions: frozenset[str] | None = None

    @property
    def is_project_token(self) -> bool:
        return self.kind is PrincipalKind.PROJECT_API_TOKEN


@dataclass
class _CacheEntry:
    principal: Principal
    expires_at: datetime
    last_used_written: datetime | None


class PrincipalCache:
    """Resolved bearer tokens, kept under the access generation they were read at."""

    def __init__(self, access: AccessCache | None = None) -> None:
        self._access = access if access is not None else AccessCache(0.0)

    async def generation(self, session: AsyncSession) -> int | None:
        return await self._access.generation(session)

    def get(self, token: str, generation: int | None) -> _CacheEntry | None:
        hit, entry = self._access.get(("token", token), generation)
        if not hit:
            return None
        if entry.expires_at <= datetime.now(UTC):
            return None
        return cast(_CacheEntry, entry)

    def put(self, token: str, entry: _CacheEntry, generation: int | None) -> None:
        self._access.put(("token", token), entry, generation)



def _bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Unauthenticated: send 'Authorization: Bearer <token>'.")
    return token.strip()


async def _resolve_session(
    session: AsyncSession, settings: Settings, token: str
) -> tuple[Principal, datetime]:
    payload = decode_access_token(settings, token)
    if payload is None:
        raise Unauthenticated("The access token is invalid or has expired.")
    row = (
        await session.execute(
            select(AuthSession.revoked_at, AuthSession.expires_at, User.active)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id == int(payload["sid"]))
        )
    ).one_or_none()
    if row is None or row.revoked_at is not None or not row.active:
        raise Unauthenticated("The session of this access token has ended.")
    token_expiry = datetime.fromtimestamp(int(payload["exp"]), UTC)
    principal = Principal(
        kind=PrincipalKind.SESSION, user_id=int(payload["sub"]), session_id=int(payload["sid"])
    )
    return principal, min(token_expiry, row.expires_at)


async def _resolve_api_token(
    session: AsyncSession, token: str
) -> tuple[Principal, datetime, datetime | None]:
    row = (
        await session.execute(
            select(ApiToken, User.active, Role.permissions)
            .join(User, User.id == ApiToken.user_id)
            .outerjoin(Role, Role.id == ApiToken.role_id)
            .where(ApiToken.token_hash == hash_token(token))
        )
    ).one_or_none()
    if row is None:
        raise Unauthenticated("The token is invalid.")
    api_token, user_active, role_permissions = row
    now = datetime.now(UTC)
    if api_token.revoked_at is not None:
        raise Unauthenticated("The token has been revoked.")
    if api_token.expires_at <= now:
        raise Unauthenticated("The token has expired.")
    if not user_active:
        raise Unauthenticated("The account that owns this token is not active.")
    if api_token.type == ApiTokenType.PROJECT_API_TOKEN:
        principal = Principal(
            kind=PrincipalKind.PROJECT_API_TOKEN,
            user_id=api_token.user_id,
            token_id=api_token.id,
            project_id=api_token.project_id,
            permissions=frozenset(role_permissions or ()),
        )
    else:
        principal = Principal(
            kind=PrincipalKind.PERSONAL_ACCESS_TOKEN,
            user_id=api_token.user_id,
            token_id=api_token.id,
        )
    return principal, api_token.expires_at, api_token.last_used_at


async def _touch_token(session: AsyncSession, token_id: str, now: datetime) -> None:
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


async def current_principal(request: Request, session: SessionDep) -> Principal:
    # Every request resolves its caller: the app's settings and cache are read off its state
    # rather than as two more dependencies for FastAPI to solve each time.
    settings: Settings = request.app.state.settings
    cache: PrincipalCache = request.app.state.principal_cache
    token = _bearer(request)
    now = datetime.now(UTC)
    generation = await cache.generation(session)
    entry = cache.get(token, generation)
    if entry is None:
        if looks_like_jwt(token):
            principal, expires_at = await _resolve_session(session, settings, token)
            last_used = None
        else:
            principal, expires_at, last_used = await _resolve_api_token(session, token)
        # Another request in flight with this token may have resolved it meanwhile (its
        # first use, an expired entry): share its entry, and so its mark of the last use.
        entry = cache.get(token, generation) or _CacheEntry(
            principal=principal, expires_at=expires_at, last_used_written=last_used)
        cache.put(token, entry, generation)
    principal = entry.principal
    if principal.token_id is not None and (
        entry.last_used_written is None or now - entry.last_used_written >= LAST_USED_RESOLUTION
    ):
        # Written at most once a minute per token: `last_used_at` stays useful without
        # turning every read request into a write. Marked before the write, so the other
        # requests in flight with this token do not write it too: each would wait for the
        # row lock of the one before until that request ended. (It stays in the request's
        # transaction: a refused request leaves nothing stored, its token's use included.)
        entry.last_used_written = now
        await _touch_token(session, principal.token_id, now)
    request.state.principal = principal
    return principal


async def current_user_principal(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    """Account endpoints act on a user; a project token has no user account to act on."""
    if principal.is_project_token:
        raise Forbidden("A project API token cannot be used for user account operations.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentUserPrincipal = Annotated[Principal, Depends(current_user_principal)]

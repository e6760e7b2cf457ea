"""Who is calling: resolves the bearer token into a Principal.

Three kinds of bearer: a login JWT (bound to a revocable session), a personal access token
(acts as its user) and a project API token (its project only, its role's permissions).
A resolved token is reused by an API process only while its database's change feed
(app/core/changes.py) is live and quiet: on PostgreSQL a revocation, an expiry change, a
deactivated user or a role change notifies every process at commit, and each drops what
it cached (`ACCESS_CACHE_SECONDS`). Without a live feed (SQLite, or the listening
connection lost) every request checks its token with one indexed lookup, unless a single
process is told to cache for a few seconds (`AUTH_CACHE_SECONDS`); revocation through that
process clears its entry at once.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.changes import FeedCache
from app.core.deps import SessionDep, SettingsDep
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
    valid_until: float
    expires_at: datetime
    last_used_written: datetime | None
    # The change feed's generation it was read under; None: a process-local entry.
    generation: int | None = None


class PrincipalCache:
    def __init__(self, feed_cache: FeedCache | None = None, max_entries: int = 10_000) -> None:
        self._entries: dict[str, _CacheEntry] = {}
        self._max = max_entries
        self._feed = feed_cache

    def begin(self) -> int | None:
        """The feed generation a token lookup starts under (None: no live feed)."""
        return self._feed.begin() if self._feed is not None else None

    def ttl(self, settings: Settings, generation: int | None) -> float:
        if generation is not None and self._feed is not None:
            return self._feed.ttl
        return settings.auth_cache_seconds

    def get(self, key: str) -> _CacheEntry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stale = entry.generation is not None and (
            self._feed is None or self._feed.begin() != entry.generation)
        if (stale or entry.valid_until < time.monotonic()
                or entry.expires_at <= datetime.now(UTC)):
            self._entries.pop(key, None)
            return None
        return entry

    def put(self, key: str, entry: _CacheEntry) -> None:
        if entry.generation is not None and (
                self._feed is None or self._feed.begin() != entry.generation):
            return  # something changed while the token was read: do not keep it
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = entry

    def forget_token(self, token_id: str) -> None:
        for key, entry in list(self._entries.items()):
            if entry.principal.token_id == token_id:
                del self._entries[key]

    def forget_session(self, session_id: int) -> None:
        for key, entry in list(self._entries.items()):
            if entry.principal.session_id == session_id:
                del self._entries[key]

    def forget_user(self, user_id: int) -> None:
        for key, entry in list(self._entries.items()):
            if entry.principal.user_id == user_id:
                del self._entries[key]


async def get_principal_cache(request: Request) -> PrincipalCache:
    cache: PrincipalCache = request.app.state.principal_cache
    return cache


PrincipalCacheDep = Annotated[PrincipalCache, Depends(get_principal_cache)]


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


async def current_principal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cache: PrincipalCacheDep,
) -> Principal:
    token = _bearer(request)
    now = datetime.now(UTC)
    entry = cache.get(token)
    if entry is None:
        generation = cache.begin()
        if looks_like_jwt(token):
            principal, expires_at = await _resolve_session(session, settings, token)
            last_used = None
        else:
            principal, expires_at, last_used = await _resolve_api_token(session, token)
        ttl = cache.ttl(settings, generation)
        entry = _CacheEntry(
            principal=principal,
            valid_until=time.monotonic() + ttl,
            expires_at=expires_at,
            last_used_written=last_used,
            generation=generation,
        )
        if ttl > 0:
            cache.put(token, entry)
    principal = entry.principal
    if principal.token_id is not None and (
        entry.last_used_written is None or now - entry.last_used_written >= LAST_USED_RESOLUTION
    ):
        # Written at most once a minute per token: `last_used_at` stays useful without
        # turning every read request into a write.
        await _touch_token(session, principal.token_id, now)
        entry.last_used_written = now
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

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.organizations.models import Organization
from app.projects.models import Project
from app.users.models import AuthSession, User, UserToken

# Path words under /users/ that a slug must never shadow.
RESERVED_SLUGS = frozenset(
    {
        "me",
        "billing",
        "urls",
        "logout",
        "login",
        "account",
        "password",
        "refresh-token",
        "personal-access-tokens",
        "team-invitations",
    }
)


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email == email.lower()))

    async def get_by_id_or_slug(self, key: str) -> User | None:
        if key.isdigit():
            return await self.session.get(User, int(key)) if len(key) <= 9 else None
        return await self.session.scalar(select(User).where(User.url_slug == key))

    async def organization_by_slug(self, slug: str) -> Organization | None:
        return await self.session.scalar(select(Organization).where(Organization.url_slug == slug))

    async def unique_slug(self, base: str) -> str:
        slug = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")[:60] or "user"
        taken = set(
            (
                await self.session.scalars(
                    select(User.url_slug).where(User.url_slug.like(f"{slug}%"))
                )
            ).all()
        )
        taken |= set(
            (
                await self.session.scalars(
                    select(Organization.url_slug).where(Organization.url_slug.like(f"{slug}%"))
                )
            ).all()
        )
        candidate, n = slug, 1
        while candidate in taken or candidate in RESERVED_SLUGS:
            n += 1
            candidate = f"{slug}-{n}"
        return candidate

    async def add(self, entity: User | AuthSession | UserToken) -> None:
        self.session.add(entity)
        await self.session.flush()

    async def session_by_refresh_hash(self, refresh_hash: str) -> AuthSession | None:
        return await self.session.scalar(
            select(AuthSession).where(AuthSession.refresh_token_hash == refresh_hash)
        )

    async def get_session(self, session_id: int) -> AuthSession | None:
        return await self.session.get(AuthSession, session_id)

    async def revoke_sessions(self, user_id: int, now: datetime) -> list[int]:
        ids = list(
            (
                await self.session.scalars(
                    select(AuthSession.id).where(
                        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
                    )
                )
            ).all()
        )
        if ids:
            await self.session.execute(
                update(AuthSession).where(AuthSession.id.in_(ids)).values(revoked_at=now)
            )
        return ids

    async def user_token(self, token_hash: str, purpose: str) -> UserToken | None:
        return await self.session.scalar(
            select(UserToken).where(
                UserToken.token_hash == token_hash, UserToken.purpose == purpose
            )
        )

    async def invalidate_user_tokens(self, user_id: int, purpose: str, now: datetime) -> None:
        await self.session.execute(
            update(UserToken)
            .where(
                UserToken.user_id == user_id,
                UserToken.purpose == purpose,
                UserToken.used_at.is_(None),
            )
            .values(used_at=now)
        )

    async def count_owned_projects(self, user_id: int) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).select_from(Project).where(Project.user_id == user_id)
            )
            or 0
        )

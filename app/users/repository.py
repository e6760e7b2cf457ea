from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal, PrincipalKind
from app.access.permissions import Authorizer
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.teams.models import Team, TeamMember
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

    async def activity_counts(self, user_id: int) -> dict[str, tuple[int, int]]:
        """(owner of, member of) for projects, environments and teams, in one query.

        "Member of" counts what the user reaches through teams or organizations without
        owning it, decided by the same conditions the authorization layer uses for lists.
        """
        principal = Principal(kind=PrincipalKind.PERSONAL_ACCESS_TOKEN, user_id=user_id)
        authorizer = Authorizer(self.session)

        def count(stmt: Select[Any]) -> ScalarSelect[int]:
            return select(func.count()).select_from(stmt.subquery()).scalar_subquery()

        owned_env = Environment.project_id.in_(select(Project.id).where(Project.user_id == user_id))
        row = (
            await self.session.execute(
                select(
                    count(select(Project.id).where(Project.user_id == user_id)),
                    count(
                        select(Project.id).where(
                            authorizer.project_condition(principal), Project.user_id != user_id
                        )
                    ),
                    count(select(Environment.id).where(owned_env)),
                    count(
                        select(Environment.id).where(
                            authorizer.environment_condition(principal), ~owned_env
                        )
                    ),
                    count(select(Team.id).where(Team.created_by == user_id)),
                    count(select(TeamMember.team_id).where(TeamMember.user_id == user_id)),
                )
            )
        ).one()
        return {
            "projects": (int(row[0]), int(row[1])),
            "environments": (int(row[2]), int(row[3])),
            "teams": (int(row[4]), int(row[5])),
        }

    async def count_owned_projects(self, user_id: int) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).select_from(Project).where(Project.user_id == user_id)
            )
            or 0
        )

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.core.pagination import PageParams, paginate
from app.projects.models import Project
from app.roles.models import Role
from app.tokens.models import ApiToken, ApiTokenType


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _personal(self, user_id: int) -> Select[ApiToken]:
        return (
            select(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.type == ApiTokenType.PERSONAL_ACCESS_TOKEN)
            .options(joinedload(ApiToken.user))
        )

    def _project(self, project_id: int) -> Select[ApiToken]:
        return (
            select(ApiToken)
            .where(
                ApiToken.project_id == project_id,
                ApiToken.type == ApiTokenType.PROJECT_API_TOKEN,
            )
            .options(
                joinedload(ApiToken.role),
                joinedload(ApiToken.project).joinedload(Project.organization),
                joinedload(ApiToken.project).joinedload(Project.created_by_user),
            )
        )

    async def list_personal(self, user_id: int, page: PageParams) -> Sequence[ApiToken]:
        stmt = self._personal(user_id).order_by(ApiToken.created_at.desc(), ApiToken.id)
        return await paginate(self.session, stmt, page)

    async def get_personal(self, user_id: int, token_id: str) -> ApiToken | None:
        token: ApiToken | None = await self.session.scalar(
            self._personal(user_id).where(ApiToken.id == token_id)
        )
        return token

    async def list_project(self, project_id: int, page: PageParams) -> Sequence[ApiToken]:
        stmt = self._project(project_id).order_by(ApiToken.created_at.desc(), ApiToken.id)
        return await paginate(self.session, stmt, page)

    async def get_project(self, project_id: int, token_id: str) -> ApiToken | None:
        token: ApiToken | None = await self.session.scalar(
            self._project(project_id).where(ApiToken.id == token_id)
        )
        return token

    async def add(self, token: ApiToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def role_usable_in(self, role_id: int, project: Project) -> Role | None:
        """Predefined roles, the project's own roles, or those of its organization."""
        role = await self.session.get(Role, role_id)
        if role is None:
            return None
        if role.organization_id is None and role.project_id is None:
            return role
        if role.organization_id is not None and role.organization_id == project.organization_id:
            return role
        if role.project_id is not None and role.project_id == project.id:
            return role
        return None

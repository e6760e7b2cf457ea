from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.core.pagination import PageParams, paginate
from app.roles.models import Role
from app.teams.models import TeamLink
from app.tokens.models import ApiToken


def predefined() -> ColumnElement[bool]:
    return Role.organization_id.is_(None) & Role.project_id.is_(None)


class RoleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _listing(self, *owners: ColumnElement[bool]) -> Select[Role]:
        return (
            select(Role)
            .where(or_(predefined(), *owners))
            .options(joinedload(Role.organization), joinedload(Role.created_by_user))
            # Predefined roles first, then the tenant's own, by name.
            .order_by(Role.is_predefined.desc(), Role.name, Role.id)
        )

    async def list_for_organization(self, organization_id: int, page: PageParams) -> Sequence[Role]:
        return await paginate(
            self.session, self._listing(Role.organization_id == organization_id), page
        )

    async def list_for_project(
        self, project_id: int, organization_id: int | None, page: PageParams
    ) -> Sequence[Role]:
        owners = [Role.project_id == project_id]
        if organization_id is not None:
            owners.append(Role.organization_id == organization_id)
        return await paginate(self.session, self._listing(*owners), page)

    async def add(self, role: Role) -> None:
        self.session.add(role)
        await self.session.flush()

    async def load_relations(self, role: Role) -> Role:
        # One statement re-reading the row with its relations joined (a refresh takes four).
        stmt = (
            select(Role)
            .where(Role.id == role.id)
            .options(joinedload(Role.parent), joinedload(Role.organization),
                     joinedload(Role.created_by_user))
            .execution_options(populate_existing=True)
        )
        await self.session.scalar(stmt)
        return role

    async def in_use(self, role_id: int) -> bool:
        link = await self.session.scalar(
            select(TeamLink.id).where(TeamLink.role_id == role_id).limit(1)
        )
        token = await self.session.scalar(
            select(ApiToken.id).where(ApiToken.role_id == role_id).limit(1)
        )
        return link is not None or token is not None

    async def delete(self, role: Role) -> None:
        await self.session.delete(role)
        await self.session.flush()

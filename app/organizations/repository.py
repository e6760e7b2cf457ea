from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.core.pagination import PageParams, paginate
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.teams.models import Team
from app.users.models import User


class OrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_readable(
        self, authorizer: Authorizer, principal: Principal, page: PageParams
    ) -> Sequence[Organization]:
        stmt = (
            authorizer.readable_organizations(principal)
            .options(joinedload(Organization.owner))
            .order_by(Organization.name, Organization.id)
        )
        return await paginate(self.session, stmt, page)

    async def slug_taken(self, slug: str, *, except_id: int | None = None) -> bool:
        # Users and organizations share one URL namespace (`/users/{slug}` accepts both).
        org = await self.session.scalar(
            select(Organization.id).where(Organization.url_slug == slug).limit(1)
        )
        user = await self.session.scalar(select(User.id).where(User.url_slug == slug).limit(1))
        return user is not None or (org is not None and org != except_id)

    async def add(self, organization: Organization) -> None:
        self.session.add(organization)
        await self.session.flush()

    async def load_owner(self, organization: Organization) -> Organization:
        await self.session.refresh(organization, ["owner"])
        return organization

    async def counts(self, organization_id: int) -> tuple[int, int, int]:
        """(projects, environments, teams) of the organization, in one query."""
        projects = (
            select(func.count())
            .select_from(Project)
            .where(Project.organization_id == organization_id)
            .scalar_subquery()
        )
        environments = (
            select(func.count())
            .select_from(Environment)
            .join(Project, Project.id == Environment.project_id)
            .where(Project.organization_id == organization_id, Environment.archived_at.is_(None))
            .scalar_subquery()
        )
        teams = (
            select(func.count())
            .select_from(Team)
            .where(Team.organization_id == organization_id)
            .scalar_subquery()
        )
        row = (await self.session.execute(select(projects, environments, teams))).one()
        return int(row[0]), int(row[1]), int(row[2])

    async def delete(self, organization: Organization) -> None:
        await self.session.delete(organization)
        await self.session.flush()

"""Projects: owned by a user, or by an organization (then its owner is the project's user)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.permissions import MAX_ID, Authorizer
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import PageParams
from app.core.schemas import ResourceSummaryItem
from app.environments.summary import environment_summary, summary_item
from app.organizations.models import Organization
from app.projects.models import Project
from app.projects.repository import ProjectRepository
from app.projects.schemas import ProjectCreate, ProjectUpdate
from app.users.models import User
from app.users.repository import UserRepository


class ProjectService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.projects = ProjectRepository(session)
        self.authorizer = Authorizer(session)

    async def list_readable(
        self, principal: Principal, page: PageParams, owner: str | None = None
    ) -> Sequence[Project]:
        stmt = self.authorizer.readable_projects(principal)
        if owner is not None:
            stmt = stmt.where(await self._owner_filter(owner))
        return await self.projects.page(stmt, page)

    async def _owner_filter(self, owner: str) -> ColumnElement[bool]:
        # `owner` names a user or an organization, by id or URL slug; an unknown owner
        # simply matches nothing (the answer must not reveal which names exist).
        by_id = owner.isdigit()
        if by_id and int(owner) > MAX_ID:
            return Project.id.is_(None)
        organization = await self.session.scalar(
            select(Organization.id).where(
                Organization.id == int(owner) if by_id else Organization.url_slug == owner
            )
        )
        user = await self.session.scalar(
            select(User.id).where(User.id == int(owner) if by_id else User.url_slug == owner)
        )
        if not by_id and organization is not None:
            return Project.organization_id == organization
        if user is not None:
            return and_(Project.user_id == user, Project.organization_id.is_(None))
        if organization is not None:
            return Project.organization_id == organization
        return Project.id.is_(None)

    async def list_owned_by(
        self, principal: Principal, user_key: str, page: PageParams
    ) -> Sequence[Project]:
        user = await UserRepository(self.session).get_by_id_or_slug(user_key)
        if user is None or user.id != principal.user_id:
            raise NotFound("User not found.")
        stmt = self.authorizer.readable_projects(principal).where(Project.user_id == user.id)
        return await self.projects.page(stmt, page)

    def _logo(self, data: ProjectCreate) -> str | None:
        if data.logo_image is not None:
            raise ValidationFailed.field(
                "logo_image",
                "Logo uploads are not stored by this server; set logo_url to an image URL.",
            )
        return data.logo_url

    async def create_personal(self, principal: Principal, data: ProjectCreate) -> Project:
        project = Project(
            name=data.name,
            logo_url=self._logo(data),
            user_id=principal.user_id,
            created_by=principal.user_id,
        )
        return await self._add(principal, project)

    async def create_in_organization(
        self, principal: Principal, organization_key: str, data: ProjectCreate
    ) -> Project:
        organization = await self.authorizer.organization(
            principal, organization_key, "project:create"
        )
        project = Project(
            name=data.name,
            logo_url=self._logo(data),
            user_id=organization.owner_id,
            organization_id=organization.id,
            created_by=principal.user_id,
        )
        return await self._add(principal, project)

    async def _check_name(self, project: Project, name: str) -> None:
        # One name per product or client inside an organization (or a user's own projects).
        if await self.projects.name_taken(project, name):
            raise ValidationFailed.field(
                "name", "The name has already been taken: choose a unique name."
            )

    async def _add(self, principal: Principal, project: Project) -> Project:
        await self._check_name(project, project.name)
        await self.projects.add(project)
        project.remember_permissions(
            await self.authorizer.project_permissions(principal, project) or ()
        )
        return await self.projects.load_relations(project)

    async def get(
        self, principal: Principal, project_id: int
    ) -> tuple[Project, list[ResourceSummaryItem]]:
        """The project with its resource summary, read in one statement."""
        project, counts = await self.authorizer.project_with(
            principal, project_id, "project:read", columns=self.projects.count_columns(),
            options=self.projects.relations())
        active, archived, teams = (int(count) for count in counts)
        return project, self._summary(active, archived, teams)

    async def summary(self, project: Project) -> list[ResourceSummaryItem]:
        return self._summary(*await self.projects.counts(project.id))

    @staticmethod
    def _summary(active: int, archived: int, teams: int) -> list[ResourceSummaryItem]:
        return [
            summary_item("environment", "environments", "Environment", "Environments", active),
            summary_item(
                "archived-environment",
                "archived-environments",
                "Archived Environment",
                "Archived Environments",
                archived,
            ),
            summary_item("team", "teams", "Team", "Teams", teams),
        ]

    async def update(self, principal: Principal, project_id: int, data: ProjectUpdate) -> None:
        project = await self.authorizer.project(principal, project_id, "project:update")
        if data.id != project.id:
            raise ValidationFailed.field("id", "The id must match the project in the URL.")
        if data.name != project.name:
            await self._check_name(project, data.name)
        project.name = data.name
        if "logo_url" in data.model_fields_set or "logo_image" in data.model_fields_set:
            project.logo_url = self._logo(data)
        await self.session.flush()

    async def delete(self, principal: Principal, project_id: int) -> None:
        project = await self.authorizer.project(principal, project_id, "project:delete")
        # Removing a project removes the environments inside it; one that still holds
        # resources (servers, applications, ...) blocks it, as removing it alone would.
        environments = await self.projects.environments(project.id)
        blocked = []
        for environment in environments:
            remaining = [
                f"{item.summary.count} {item.resource_type_human_readable_plural.lower()}"
                for item in await environment_summary(self.session, environment.id)
                if item.summary.count
            ]
            if remaining:
                blocked.append(f"{environment.name} ({', '.join(remaining)})")
        if blocked:
            raise Conflict(
                "The project's environments still hold resources: " + "; ".join(blocked)
                + ". Delete them first."
            )
        for environment in environments:
            await self.session.delete(environment)
        await self.session.flush()
        await self.projects.delete(project)

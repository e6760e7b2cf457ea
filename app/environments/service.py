"""Environments of a project: typed, archivable, each with its own SSH key pair."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import PageParams
from app.core.schemas import ResourceSummaryItem
from app.core.security import SecretBox
from app.core.settings import Settings
from app.environments.keys import new_environment_key
from app.environments.models import Environment
from app.environments.repository import EnvironmentRepository
from app.environments.schemas import EnvironmentCreate, EnvironmentUpdate
from app.environments.summary import environment_summary
from app.projects.models import Project
from app.projects.repository import ProjectRepository
from app.teams.models import Team
from app.users.repository import UserRepository


@dataclass(frozen=True)
class ProjectEnvironments:
    """A page of a project's environments: the project (with its organization and creator
    loaded) and the environments' own columns, as plain rows."""

    project: Project
    rows: Sequence[Row[Any]]


class EnvironmentService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.environments = EnvironmentRepository(session)
        self.authorizer = Authorizer(session)

    async def list_for_project(
        self, principal: Principal, project_id: int, page: PageParams, *, archived: bool
    ) -> ProjectEnvironments:
        # Every environment of the page shares the project the check reads anyway: its
        # relations come with it, once, instead of being joined to each row.
        project = await self.authorizer.project(
            principal, project_id, "environment:read", options=ProjectRepository.relations()
        )
        if self.authorizer.sees_whole_project(project):
            rows = await self.environments.project_page(project.id, page, archived=archived)
            return ProjectEnvironments(project, rows)
        stmt = self.authorizer.environments_of(principal, project).where(
            Environment.archived_at.is_not(None) if archived else Environment.archived_at.is_(None),
        )
        return ProjectEnvironments(project, await self.environments.page_rows(stmt, page))

    async def list_owned_by(
        self, principal: Principal, user_key: str, page: PageParams
    ) -> Sequence[Environment]:
        user = await UserRepository(self.session).get_by_id_or_slug(user_key)
        if user is None or user.id != principal.user_id:
            raise NotFound("User not found.")
        stmt = (
            self.authorizer.readable_environments(principal)
            .join(Project, Project.id == Environment.project_id)
            .where(Project.user_id == user.id, Environment.archived_at.is_(None))
        )
        return await self.environments.page(stmt, page)

    async def create(
        self, principal: Principal, project_id: int, data: EnvironmentCreate
    ) -> Environment:
        project = await self.authorizer.project(principal, project_id, "environment:create")
        if await self.environments.name_taken(project.id, data.name):
            raise ValidationFailed.field("name", "The name has already been taken.")
        key = new_environment_key(SecretBox(self.settings), f"devopness-project-{project.id}")
        environment = Environment(
            project_id=project.id,
            type=data.type,
            name=data.name,
            description=data.description,
            created_by=None if principal.is_project_token else principal.user_id,
            ssh_public_key=key.public_key,
            ssh_private_key_encrypted=key.private_key_encrypted,
        )
        await self.environments.add(environment)
        environment.remember_permissions(project.current_user_permissions)
        return await self.environments.load_relations(environment)

    async def get(self, principal: Principal, environment_id: int) -> Environment:
        environment = await self.authorizer.environment(
            principal, environment_id, "environment:read"
        )
        return await self.environments.load_relations(environment)

    async def teams(self, environment: Environment) -> Sequence[Team]:
        return await self.environments.linked_teams(environment.id)

    async def summary(self, environment: Environment) -> list[ResourceSummaryItem]:
        return await environment_summary(self.session, environment.id)

    async def update(
        self, principal: Principal, environment_id: int, data: EnvironmentUpdate
    ) -> None:
        environment = await self.authorizer.environment(
            principal, environment_id, "environment:update"
        )
        if data.id != environment.id:
            raise ValidationFailed.field("id", "The id must match the environment in the URL.")
        if environment.archived_at is not None:
            # Archived environments are read-only, their own settings included.
            raise Conflict("The environment is archived; unarchive it to change it.")
        if await self.environments.name_taken(
            environment.project_id, data.name, except_id=environment.id
        ):
            raise ValidationFailed.field("name", "The name has already been taken.")
        environment.type = data.type
        environment.name = data.name
        if "description" in data.model_fields_set:
            environment.description = data.description
        await self.session.flush()

    async def set_archived(self, principal: Principal, environment_id: int, archived: bool) -> None:
        environment = await self.authorizer.environment(
            principal, environment_id, "environment:archive"
        )
        # Archiving twice (or unarchiving an active environment) leaves it as asked: no error.
        if archived and environment.archived_at is None:
            environment.archived_at = datetime.now(UTC)
        elif not archived:
            environment.archived_at = None
        await self.session.flush()

    async def delete(self, principal: Principal, environment_id: int) -> None:
        environment = await self.authorizer.environment(
            principal, environment_id, "environment:delete"
        )
        remaining = [
            f"{item.summary.count} {item.resource_type_human_readable_plural.lower()}"
            for item in await environment_summary(self.session, environment.id)
            if item.summary.count
        ]
        if remaining:
            raise Conflict(
                "The environment still has " + ", ".join(remaining) + "; delete them first."
            )
        # Team links to the environment go with it (FK cascade).
        await self.environments.delete(environment)

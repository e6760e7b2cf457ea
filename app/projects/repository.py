from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.base import ExecutableOption

from app.core.pagination import PageParams, paginate
from app.environments.models import Environment
from app.projects.models import Project
from app.teams.models import Team
from app.tokens.models import ApiToken


class ProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    @cache
    def relations() -> tuple[ExecutableOption, ...]:
        # Both many-to-one: joined into the query that reads the projects. Built on first
        # use: the mappers are only complete once every model is imported.
        return (joinedload(Project.organization), joinedload(Project.created_by_user))

    @classmethod
    def with_relations(cls, stmt: Select[Project]) -> Select[Project]:
        return stmt.options(*cls.relations())

    async def page(self, stmt: Select[Project], page: PageParams) -> Sequence[Project]:
        stmt = self.with_relations(stmt).order_by(Project.created_at.desc(), Project.id.desc())
        return await paginate(self.session, stmt, page)

    async def load_relations(self, project: Project) -> Project:
        # One statement re-reading the row with both relations joined; refreshing the two
        # relationships would take three.
        stmt = self.with_relations(select(Project).where(Project.id == project.id))
        await self.session.scalar(stmt.execution_options(populate_existing=True))
        return project

    async def add(self, project: Project) -> None:
        self.session.add(project)
        await self.session.flush()

    async def counts(self, project_id: int) -> tuple[int, int, int]:
        """(active environments, archived environments, teams) of the project."""
        row = (await self.session.execute(_counts(), {"project_id": project_id})).one()
        return int(row[0]), int(row[1]), int(row[2])

    @staticmethod
    @cache
    def count_columns() -> tuple[ColumnElement[int], ...]:
        """`counts()` as expressions correlated to the project of the enclosing SELECT, for
        reading them with the project (each an index-only scan)."""
        environments = select(func.count()).where(Environment.project_id == Project.id)
        return (
            environments.where(Environment.archived_at.is_(None)).scalar_subquery(),
            environments.where(Environment.archived_at.is_not(None)).scalar_subquery(),
            select(func.count()).select_from(Team).where(Team.project_id == Project.id)
            .scalar_subquery(),
        )

    async def name_taken(self, project: Project, name: str) -> bool:
        """Whether another project of the same owner (organization, else user) has `name`."""
        owner = (
            Project.organization_id == project.organization_id
            if project.organization_id is not None
            else (Project.organization_id.is_(None)) & (Project.user_id == project.user_id)
        )
        stmt = select(Project.id).where(owner, func.lower(Project.name) == name.lower())
        if project.id is not None:
            stmt = stmt.where(Project.id != project.id)
        return await self.session.scalar(stmt.limit(1)) is not None

    async def environments(self, project_id: int) -> Sequence[Environment]:
        """All of the project's environments, archived ones included."""
        result = await self.session.scalars(
            select(Environment).where(Environment.project_id == project_id).order_by(Environment.id)
        )
        return result.all()

    async def delete(self, project: Project) -> None:
        # Project tokens go first: their role may be one of this project's roles, which the
        # cascade would otherwise try to remove while a token still points at it.
        await self.session.execute(delete(ApiToken).where(ApiToken.project_id == project.id))
        await self.session.delete(project)
        await self.session.flush()


@cache
def _counts() -> Select[*tuple[Any, ...]]:
    # Built once: a project just created or changed is counted apart from its read.
    return (
        select(*ProjectRepository.count_columns())
        .select_from(Project)
        .where(Project.id == bindparam("project_id"))
    )

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.core.pagination import PageParams, RowPages, paginate, paginate_rows
from app.environments.models import Environment
from app.projects.models import Project
from app.teams.models import Team, TeamLink

_RELATION_COLUMNS = (
    Environment.id,
    Environment.type,
    Environment.name,
    Environment.description,
    Environment.created_at,
    Environment.updated_at,
    Environment.archived_at,
)


class EnvironmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def with_relations(stmt: Select[Environment]) -> Select[Environment]:
        # All many-to-one: joined into the page query itself, one round trip for the page.
        project = joinedload(Environment.project, innerjoin=True)
        return stmt.options(
            project.joinedload(Project.organization),
            project.joinedload(Project.created_by_user),
        )

    async def page(self, stmt: Select[Environment], page: PageParams) -> Sequence[Environment]:
        stmt = self.with_relations(stmt).order_by(Environment.name, Environment.id)
        return await paginate(self.session, stmt, page)

    async def page_rows(
        self, stmt: Select[Environment], page: PageParams
    ) -> Sequence[Row[Any]]:
        """A page of one project's environments as plain rows (`schemas.EnvironmentRelation`
        without its project): the caller already holds the project, so neither it nor its
        relations are joined to every row, and no tracked ORM object is built."""
        columns = stmt.with_only_columns(*_RELATION_COLUMNS)
        return await paginate_rows(
            self.session, columns.order_by(Environment.name, Environment.id), page
        )

    async def project_page(
        self, project_id: int, page: PageParams, *, archived: bool
    ) -> Sequence[Row[Any]]:
        """`page_rows()` of every active (or archived) environment of a project, for a caller
        who sees the whole project, from statements built once."""
        return await paginate_rows(
            self.session, _project_pages(archived), page, {"project_id": project_id})

    async def add(self, environment: Environment) -> None:
        self.session.add(environment)
        await self.session.flush()

    async def name_taken(self, project_id: int, name: str, *, except_id: int | None = None) -> bool:
        stmt = select(Environment.id).where(
            Environment.project_id == project_id, Environment.name == name
        )
        if except_id is not None:
            stmt = stmt.where(Environment.id != except_id)
        return await self.session.scalar(stmt.limit(1)) is not None

    async def load_relations(self, environment: Environment) -> Environment:
        # One statement re-reading the row with its creator joined (a refresh takes two).
        stmt = (
            select(Environment)
            .where(Environment.id == environment.id)
            .options(joinedload(Environment.created_by_user))
            .execution_options(populate_existing=True)
        )
        await self.session.scalar(stmt)
        return environment

    async def linked_teams(self, environment_id: int) -> Sequence[Team]:
        stmt = (
            select(Team)
            .join(TeamLink, TeamLink.team_id == Team.id)
            .where(TeamLink.environment_id == environment_id)
            .options(joinedload(Team.created_by_user))
            .order_by(Team.name, Team.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def delete(self, environment: Environment) -> None:
        await self.session.delete(environment)
        await self.session.flush()


@cache
def _project_pages(archived: bool) -> RowPages:
    state = Environment.archived_at.is_not(None) if archived else Environment.archived_at.is_(None)
    return RowPages.of(
        select(*_RELATION_COLUMNS)
        .where(Environment.project_id == bindparam("project_id"), state)
        .order_by(Environment.name, Environment.id)
    )

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.pagination import PageParams, paginate
from app.environments.models import Environment
from app.projects.models import Project
from app.teams.models import Team, TeamLink


class EnvironmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def with_relations(stmt: Select[Environment]) -> Select[Environment]:
        project = selectinload(Environment.project)
        return stmt.options(
            project.selectinload(Project.organization),
            project.selectinload(Project.created_by_user),
        )

    async def page(self, stmt: Select[Environment], page: PageParams) -> Sequence[Environment]:
        stmt = self.with_relations(stmt).order_by(Environment.name, Environment.id)
        return await paginate(self.session, stmt, page)

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
        await self.session.refresh(environment, ["created_by_user"])
        return environment

    async def linked_teams(self, environment_id: int) -> Sequence[Team]:
        stmt = (
            select(Team)
            .join(TeamLink, TeamLink.team_id == Team.id)
            .where(TeamLink.environment_id == environment_id)
            .options(selectinload(Team.created_by_user))
            .order_by(Team.name, Team.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def delete(self, environment: Environment) -> None:
        await self.session.delete(environment)
        await self.session.flush()

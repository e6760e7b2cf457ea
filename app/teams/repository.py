from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.strategy_options import _AbstractLoad

from app.core.pagination import PageParams, paginate
from app.environments.models import Environment
from app.projects.models import Project
from app.roles.models import Role
from app.teams.models import Team, TeamInvitation, TeamInvitationStatus, TeamLink, TeamMember
from app.users.models import User


def _project_relations(loader: _AbstractLoad) -> list[_AbstractLoad]:
    return [
        loader.joinedload(Project.organization),
        loader.joinedload(Project.created_by_user),
    ]


class TeamRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # teams

    async def name_taken(
        self, name: str, *, organization_id: int | None, project_id: int | None,
        except_id: int | None = None,
    ) -> bool:
        """Whether the same organization (or project) already has a team called `name`."""
        stmt = select(Team.id).where(
            Team.organization_id == organization_id if organization_id is not None
            else Team.project_id == project_id,
            func.lower(Team.name) == name.lower(),
        )
        if except_id is not None:
            stmt = stmt.where(Team.id != except_id)
        return await self.session.scalar(stmt.limit(1)) is not None

    async def page(self, stmt: Select[Team], page: PageParams) -> Sequence[Team]:
        # Many-to-one relations are joined into the page query; lists stay one round trip.
        stmt = stmt.options(
            joinedload(Team.organization), joinedload(Team.created_by_user)
        ).order_by(Team.name, Team.id)
        return await paginate(self.session, stmt, page)

    async def add(self, entity: Team | TeamMember | TeamLink | TeamInvitation) -> None:
        self.session.add(entity)
        await self.session.flush()

    async def load_team(self, team: Team) -> Team:
        await self.session.refresh(team, ["organization", "created_by_user", "project"])
        if team.project is not None:
            await self.session.refresh(team.project, ["organization", "created_by_user", "user"])
        members = (
            await self.session.scalars(
                select(TeamMember)
                .where(TeamMember.team_id == team.id)
                .options(joinedload(TeamMember.user))
                .order_by(TeamMember.created_at, TeamMember.user_id)
            )
        ).all()
        set_committed_value(team, "members", list(members))
        return team

    async def delete(self, entity: Team | TeamMember | TeamLink | TeamInvitation) -> None:
        await self.session.delete(entity)
        await self.session.flush()

    # members

    async def member(self, team_id: int, user_id: int) -> TeamMember | None:
        return await self.session.scalar(
            select(TeamMember)
            .where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
            .options(joinedload(TeamMember.user))
        )

    async def members(self, team_id: int, page: PageParams) -> Sequence[TeamMember]:
        stmt = (
            select(TeamMember)
            .where(TeamMember.team_id == team_id)
            .options(joinedload(TeamMember.user))
            .order_by(TeamMember.created_at, TeamMember.user_id)
        )
        return await paginate(self.session, stmt, page)

    # links

    def _links(self) -> Select[TeamLink]:
        # Every relation of a link is many-to-one: one joined query loads the whole page.
        team = joinedload(TeamLink.team, innerjoin=True)
        project = joinedload(TeamLink.project)
        environment_project = joinedload(TeamLink.environment).joinedload(Environment.project)
        return select(TeamLink).options(
            team.joinedload(Team.organization),
            team.joinedload(Team.created_by_user),
            joinedload(TeamLink.role, innerjoin=True),
            joinedload(TeamLink.organization),
            *_project_relations(project),
            *_project_relations(environment_project),
        )

    async def links(self, where: ColumnElement[bool], page: PageParams) -> Sequence[TeamLink]:
        stmt = self._links().where(where).order_by(TeamLink.created_at, TeamLink.id)
        return await paginate(self.session, stmt, page)

    async def link(self, team_id: int, where: ColumnElement[bool]) -> TeamLink | None:
        return await self.session.scalar(select(TeamLink).where(TeamLink.team_id == team_id, where))

    # invitations

    async def grants(self, team_id: int) -> Sequence[tuple[TeamLink, list[str]]]:
        """Every link of a team with its role's permissions: what joining the team gives."""
        rows = await self.session.execute(
            select(TeamLink, Role.permissions)
            .join(Role, Role.id == TeamLink.role_id)
            .where(TeamLink.team_id == team_id)
        )
        return [(link, list(permissions or ())) for link, permissions in rows]

    def _invitations(self) -> Select[TeamInvitation]:
        return select(TeamInvitation).options(
            joinedload(TeamInvitation.created_by_user),
            joinedload(TeamInvitation.team, innerjoin=True).joinedload(Team.organization),
            joinedload(TeamInvitation.team, innerjoin=True).joinedload(Team.created_by_user),
        )

    async def invitations(self, team_id: int, page: PageParams) -> Sequence[TeamInvitation]:
        stmt = (
            self._invitations()
            .where(TeamInvitation.team_id == team_id)
            .order_by(TeamInvitation.created_at.desc(), TeamInvitation.id)
        )
        return await paginate(self.session, stmt, page)

    async def pending_for(
        self, email: str, now: datetime, page: PageParams
    ) -> Sequence[TeamInvitation]:
        stmt = (
            self._invitations()
            .where(
                TeamInvitation.email == email.lower(),
                TeamInvitation.status == TeamInvitationStatus.PENDING,
                TeamInvitation.expires_at > now,
            )
            .order_by(TeamInvitation.created_at.desc(), TeamInvitation.id)
        )
        return await paginate(self.session, stmt, page)

    async def invitation(self, invitation_id: str) -> TeamInvitation | None:
        invitation: TeamInvitation | None = await self.session.scalar(
            self._invitations().where(TeamInvitation.id == invitation_id)
        )
        return invitation

    async def user(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

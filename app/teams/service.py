"""Teams, their members, and their links (with a role) to organizations, projects and
environments. Invitations into a team are `app.teams.invitations`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.core.errors import NotFound, ValidationFailed
from app.core.pagination import PageParams
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.teams import schemas
from app.teams.models import Team, TeamLink, TeamMember
from app.teams.repository import TeamRepository

Target = Organization | Project | Environment


class TeamService:
    """Every call asks the `Authorizer` for the team (or the target it is linked to) first;
    a link hands out a role only within what the caller holds there."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.teams = TeamRepository(session)
        self.authorizer = Authorizer(session)

    # ------------------------------------------------------------------ teams

    async def list_for_organization(
        self, principal: Principal, organization_key: str, page: PageParams
    ) -> Sequence[Team]:
        organization = await self.authorizer.organization(principal, organization_key, "team:read")
        stmt = self.authorizer.readable_teams(principal).where(
            Team.organization_id == organization.id
        )
        return await self.teams.page(stmt, page)

    async def list_for_project(
        self, principal: Principal, project_id: int, page: PageParams
    ) -> Sequence[Team]:
        project = await self.authorizer.project(principal, project_id, "team:read")
        stmt = self.authorizer.readable_teams(principal).where(Team.project_id == project.id)
        return await self.teams.page(stmt, page)

    async def create_in_organization(
        self, principal: Principal, organization_key: str, data: schemas.TeamCreate
    ) -> Team:
        organization = await self.authorizer.organization(
            principal, organization_key, "team:create"
        )
        return await self._add(principal, data, organization_id=organization.id)

    async def create_in_project(
        self, principal: Principal, project_id: int, data: schemas.TeamCreate
    ) -> Team:
        project = await self.authorizer.project(principal, project_id, "team:create")
        return await self._add(principal, data, project_id=project.id)

    async def _add(
        self,
        principal: Principal,
        data: schemas.TeamCreate,
        *,
        organization_id: int | None = None,
        project_id: int | None = None,
    ) -> Team:
        creator = None if principal.is_project_token else principal.user_id
        if await self.teams.name_taken(
            data.name, organization_id=organization_id, project_id=project_id
        ):
            raise ValidationFailed.field("name", "The name has already been taken.")
        team = Team(
            name=data.name,
            photo_url=data.photo_url,
            organization_id=organization_id,
            project_id=project_id,
            created_by=creator,
        )
        await self.teams.add(team)
        if creator is not None:
            await self.teams.add(TeamMember(team_id=team.id, user_id=creator))
        return await self.teams.load_team(team)

    async def get(self, principal: Principal, team_id: int) -> Team:
        team = await self.authorizer.team(principal, team_id, "team:read")
        return await self.teams.load_team(team)

    async def update(self, principal: Principal, team_id: int, data: schemas.TeamUpdate) -> None:
        team = await self.authorizer.team(principal, team_id, "team:update")
        if data.id != team.id:
            raise ValidationFailed.field("id", "The id must match the team in the URL.")
        if await self.teams.name_taken(
            data.name, organization_id=team.organization_id, project_id=team.project_id,
            except_id=team.id,
        ):
            raise ValidationFailed.field("name", "The name has already been taken.")
        team.name = data.name
        if "photo_url" in data.model_fields_set:
            team.photo_url = data.photo_url
        await self.session.flush()

    async def delete(self, principal: Principal, team_id: int) -> None:
        team = await self.authorizer.team(principal, team_id, "team:delete")
        # Members, links and invitations go with the team (FK cascade).
        await self.teams.delete(team)

    # ------------------------------------------------------------------ members

    async def members(
        self, principal: Principal, team_id: int, page: PageParams
    ) -> Sequence[TeamMember]:
        team = await self.authorizer.team(principal, team_id, "team:read")
        return await self.teams.members(team.id, page)

    async def member(self, principal: Principal, team_id: int, user_id: int) -> TeamMember:
        team = await self.get(principal, team_id)
        member = await self.teams.member(team.id, user_id)
        if member is None:
            raise NotFound("Member not found.")
        member.team = team
        return member

    async def remove_member(self, principal: Principal, team_id: int, user_id: int) -> None:
        leaving = not principal.is_project_token and principal.user_id == user_id
        # Anyone may leave a team; removing somebody else takes the right to change it.
        team = await self.authorizer.team(
            principal, team_id, "team:read" if leaving else "team:update"
        )
        member = await self.teams.member(team.id, user_id)
        if member is None:
            raise NotFound("Member not found.")
        await self.teams.delete(member)

    # ------------------------------------------------------------------ links

    async def memberships(
        self, principal: Principal, team_id: int, page: PageParams, filter_by: str | None
    ) -> Sequence[TeamLink]:
        team = await self.authorizer.team(principal, team_id, "team:read")
        where: ColumnElement[bool] = TeamLink.team_id == team.id
        if filter_by == "organization":
            where = where & TeamLink.organization_id.is_not(None)
        elif filter_by == "project":
            where = where & TeamLink.project_id.is_not(None)
        elif filter_by == "environment":
            where = where & TeamLink.environment_id.is_not(None)
        return await self.teams.links(where, page)

    async def target_memberships(
        self, principal: Principal, target: str, key: str | int, page: PageParams
    ) -> Sequence[TeamLink]:
        found = await self._target(principal, target, key, "team:read")
        return await self.teams.links(self._link_where(found), page)

    async def _target(
        self, principal: Principal, target: str, key: str | int, permission: str
    ) -> Target:
        if target == "organization":
            return await self.authorizer.organization(principal, key, permission)
        if target == "project":
            return await self.authorizer.project(principal, int(key), permission)
        return await self.authorizer.environment(principal, int(key), permission)

    @staticmethod
    def _link_where(target: Target) -> ColumnElement[bool]:
        if isinstance(target, Organization):
            return TeamLink.organization_id == target.id
        if isinstance(target, Project):
            return TeamLink.project_id == target.id
        return TeamLink.environment_id == target.id

    async def _in_scope(self, team: Team, target: Target) -> bool:
        """A team only reaches inside what owns it: its organization, or its project."""
        if isinstance(target, Organization):
            return team.organization_id == target.id
        if isinstance(target, Project):
            project = target
        else:
            found = await self.session.get(Project, target.project_id)
            if found is None:
                return False
            project = found
        if team.organization_id is not None:
            return project.organization_id == team.organization_id
        return project.id == team.project_id

    async def _role_usable(self, role_id: int, target: Target) -> Role | None:
        role = await self.session.get(Role, role_id)
        if role is None:
            return None
        if role.organization_id is None and role.project_id is None:
            return role
        organization_id: int | None
        project_id: int | None
        if isinstance(target, Organization):
            organization_id, project_id = target.id, None
        else:
            project = (
                target
                if isinstance(target, Project)
                else await self.session.get(Project, target.project_id)
            )
            assert project is not None
            organization_id, project_id = project.organization_id, project.id
        if role.organization_id is not None and role.organization_id == organization_id:
            return role
        if role.project_id is not None and role.project_id == project_id:
            return role
        return None

    async def link(
        self, principal: Principal, target: str, key: str | int, team_id: int, role_id: int
    ) -> None:
        found = await self._target(principal, target, key, "team:update")
        team = await self.authorizer.team(principal, team_id, "team:update")
        if not await self._in_scope(team, found):
            raise ValidationFailed.field(
                "team_id", f"The team does not belong to this {target}'s organization or project."
            )
        role = await self._role_usable(role_id, found)
        if role is None:
            raise ValidationFailed.field("role_id", "The selected role id is invalid.")
        self.authorizer.ensure_grantable(role.permissions, found.current_user_permissions)
        existing = await self.teams.link(team.id, self._link_where(found))
        if existing is not None:
            existing.role_id = role.id
            await self.session.flush()
            return
        link = TeamLink(team_id=team.id, role_id=role.id)
        if isinstance(found, Organization):
            link.organization_id = found.id
        elif isinstance(found, Project):
            link.project_id = found.id
        else:
            link.environment_id = found.id
        await self.teams.add(link)

    async def unlink(self, principal: Principal, target: str, key: str | int, team_id: int) -> None:
        found = await self._target(principal, target, key, "team:update")
        team = await self.authorizer.team(principal, team_id, "team:update")
        link = await self.teams.link(team.id, self._link_where(found))
        if link is None:
            raise NotFound(f"The team is not linked to this {target}.")
        await self.teams.delete(link)

"""Teams, their members, their links to organizations/projects/environments, invitations."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.core.database import after_commit
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.mail import Mailer
from app.core.pagination import PageParams
from app.core.security import SecretBox, constant_time_equals
from app.core.settings import Settings
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.teams import schemas
from app.teams.models import (
    Team,
    TeamInvitation,
    TeamInvitationStatus,
    TeamInvitationType,
    TeamLink,
    TeamMember,
)
from app.teams.repository import TeamRepository

INVITATION_TTL = timedelta(days=7)

Target = Organization | Project | Environment


class TeamService:
    def __init__(self, session: AsyncSession, settings: Settings, mailer: Mailer) -> None:
        self.session = session
        self.settings = settings
        self.mailer = mailer
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

    # ------------------------------------------------------------------ invitations

    def _accept_url(self, invitation: TeamInvitation) -> str | None:
        if invitation.type != TeamInvitationType.PUBLIC or invitation.token_encrypted is None:
            return None
        token = SecretBox(self.settings).decrypt(invitation.token_encrypted)
        base = self.settings.public_url.rstrip("/")
        return f"{base}/team-invitations/{invitation.id}/accept?{urlencode({'token': token})}"

    def present(self, invitation: TeamInvitation) -> schemas.InvitationRelation:
        status = TeamInvitationStatus(invitation.status)
        if status in (
            TeamInvitationStatus.PENDING,
            TeamInvitationStatus.ACTIVE,
        ) and invitation.expires_at <= datetime.now(UTC):
            status = TeamInvitationStatus.EXPIRED
        return schemas.InvitationRelation(
            id=invitation.id,
            type=TeamInvitationType(invitation.type),
            email=invitation.email,
            status=status,
            status_human_readable=status.value.capitalize(),
            public_accept_url=self._accept_url(invitation),
            accepted_from_ip=invitation.accepted_from_ip,
            created_by_user=invitation.created_by_user,
            team=invitation.team,
            organization=invitation.team.organization,
            accepted_at=invitation.accepted_at,
            expires_at=invitation.expires_at,
            created_at=invitation.created_at,
            updated_at=invitation.updated_at,
        )

    async def invitations(
        self, principal: Principal, team_id: int, page: PageParams
    ) -> Sequence[TeamInvitation]:
        team = await self.authorizer.team(principal, team_id, "team:update")
        return await self.teams.invitations(team.id, page)

    async def _ensure_joinable_by_grant(self, principal: Principal, team: Team) -> None:
        """Bringing someone into a team hands them every role the team is linked with:
        the inviter must hold each of those where the link is."""
        for link, permissions in await self.teams.grants(team.id):
            held = await self.authorizer.held_at(
                principal,
                organization_id=link.organization_id,
                project_id=link.project_id,
                environment_id=link.environment_id,
            )
            self.authorizer.ensure_grantable(permissions, held)

    async def invite(
        self, principal: Principal, team_id: int, data: schemas.InvitationCreate
    ) -> TeamInvitation:
        team = await self.authorizer.team(principal, team_id, "team:update")
        await self._ensure_joinable_by_grant(principal, team)
        now = datetime.now(UTC)
        invitation = TeamInvitation(
            team_id=team.id,
            type=data.type,
            expires_at=now + INVITATION_TTL,
            created_by=None if principal.is_project_token else principal.user_id,
        )
        if data.type == TeamInvitationType.PRIVATE:
            if data.email is None:
                raise ValidationFailed.field(
                    "email", "The email field is required when type is private."
                )
            invitation.email = str(data.email).lower()
            invitation.status = TeamInvitationStatus.PENDING
        else:
            invitation.email = None
            invitation.status = TeamInvitationStatus.ACTIVE
            invitation.token_encrypted = SecretBox(self.settings).encrypt(secrets.token_urlsafe(24))
        await self.teams.add(invitation)
        loaded = await self.teams.invitation(invitation.id)
        assert loaded is not None
        if invitation.email is not None:
            self._mail_invitation(loaded)
        return loaded

    def _mail_invitation(self, invitation: TeamInvitation) -> None:
        assert invitation.email is not None
        base = self.settings.public_url.rstrip("/")
        inviter = invitation.created_by_user.name if invitation.created_by_user else "Someone"
        body = (
            f'{inviter} invited you to join the team "{invitation.team.name}" on '
            "Devopness Server.\n\n"
            f"Invitation id: {invitation.id}\n\n"
            f"Accept it (signed in as {invitation.email}): "
            f"POST {base}/team-invitations/{invitation.id}/accept\n"
            f"Or decline it: POST {base}/team-invitations/{invitation.id}/reject\n\n"
            f"The invitation expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC.\n"
        )
        to, subject = invitation.email, f"Invitation to join the team {invitation.team.name}"

        async def send() -> None:
            await self.mailer.send(to, subject, body)

        after_commit(self.session, send)

    async def _email(self, principal: Principal) -> str:
        user = await self.teams.user(principal.user_id)
        if user is None:
            raise NotFound("User not found.")
        return user.email.lower()

    async def _own_invitation(
        self, principal: Principal, invitation_id: str, token: str | None
    ) -> TeamInvitation:
        """The invitation addressed to the caller (or a public one whose token they hold)."""
        invitation = await self.teams.invitation(invitation_id)
        if invitation is None:
            raise NotFound("Team invitation not found.")
        if invitation.type == TeamInvitationType.PRIVATE:
            if invitation.email != await self._email(principal):
                raise NotFound("Team invitation not found.")
        else:
            secret = (
                SecretBox(self.settings).decrypt(invitation.token_encrypted)
                if invitation.token_encrypted
                else None
            )
            if token is None or secret is None or not constant_time_equals(token, secret):
                raise NotFound("Team invitation not found.")
        if invitation.expires_at <= datetime.now(UTC):
            raise Conflict("The invitation has expired.")
        return invitation

    async def accept(
        self,
        principal: Principal,
        invitation_id: str,
        token: str | None,
        ip: str,
    ) -> None:
        invitation = await self._own_invitation(principal, invitation_id, token)
        if invitation.status not in (TeamInvitationStatus.PENDING, TeamInvitationStatus.ACTIVE):
            raise Conflict(f"The invitation is already {invitation.status}.")
        now = datetime.now(UTC)
        if invitation.type == TeamInvitationType.PRIVATE:
            invitation.status = TeamInvitationStatus.ACCEPTED
        invitation.accepted_at = now
        invitation.accepted_by = principal.user_id
        invitation.accepted_from_ip = ip
        if await self.teams.member(invitation.team_id, principal.user_id) is None:
            await self.teams.add(TeamMember(team_id=invitation.team_id, user_id=principal.user_id))
        await self.session.flush()

    async def reject(self, principal: Principal, invitation_id: str) -> None:
        invitation = await self.teams.invitation(invitation_id)
        if (
            invitation is None
            or invitation.type != TeamInvitationType.PRIVATE
            or invitation.email != await self._email(principal)
        ):
            raise NotFound("Team invitation not found.")
        if invitation.status != TeamInvitationStatus.PENDING:
            raise Conflict(f"The invitation is already {invitation.status}.")
        invitation.status = TeamInvitationStatus.REJECTED
        await self.session.flush()

    async def delete_invitation(self, principal: Principal, invitation_id: str) -> None:
        invitation = await self.teams.invitation(invitation_id)
        if invitation is None:
            raise NotFound("Team invitation not found.")
        # Managing a team's invitations needs the right to change the team; someone who
        # cannot see the team learns nothing (404 from the authorizer).
        await self.authorizer.team(principal, invitation.team_id, "team:update")
        await self.teams.delete(invitation)

    async def pending_for(self, principal: Principal, page: PageParams) -> Sequence[TeamInvitation]:
        email = await self._email(principal)
        return await self.teams.pending_for(email, datetime.now(UTC), page)

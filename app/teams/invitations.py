"""Team invitations: issued by someone who may change the team (and holds every role the
team is linked with), mailed or shared as a public link, accepted or rejected by the
invitee, who then becomes a member."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.core.database import after_commit
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.mail import Mailer
from app.core.pagination import PageParams
from app.core.security import SecretBox, constant_time_equals
from app.core.settings import Settings
from app.teams import schemas
from app.teams.models import (
    Team,
    TeamInvitation,
    TeamInvitationStatus,
    TeamInvitationType,
    TeamMember,
)
from app.teams.repository import TeamRepository

INVITATION_TTL = timedelta(days=7)


class InvitationService:
    def __init__(self, session: AsyncSession, settings: Settings, mailer: Mailer) -> None:
        self.session = session
        self.settings = settings
        self.mailer = mailer
        self.teams = TeamRepository(session)
        self.authorizer = Authorizer(session)

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
            held = await self.authorizer.held_at(principal, link)
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

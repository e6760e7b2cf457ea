from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from app.core.schemas import Id, RequestModel, ResponseModel, Timestamp
from app.environments.schemas import EnvironmentRelation
from app.organizations.schemas import OrganizationRelation
from app.projects.schemas import ProjectRelation
from app.roles.schemas import RoleRelation
from app.teams.models import TeamInvitationStatus, TeamInvitationType
from app.users.schemas import EmailAddress, UserRelation

TeamName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
PhotoUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^https?://\S+$")
]


class TeamCreate(RequestModel):
    name: TeamName
    photo_url: PhotoUrl | None = None


class TeamUpdate(TeamCreate):
    id: Id


class TeamLinkCreate(RequestModel):
    role_id: Id


class InvitationCreate(RequestModel):
    type: TeamInvitationType
    email: EmailAddress | None = None


MembershipTarget = Literal["organization", "project", "environment"]


class TeamRelation(ResponseModel):
    id: int
    name: str
    photo_url: str | None
    organization: OrganizationRelation | None
    created_by_user: UserRelation | None
    created_at: Timestamp
    updated_at: Timestamp


class ProjectOwnerUser(ResponseModel):
    """A user as a project owner: without timestamps, so it is never taken for an org."""

    id: int
    name: str
    email: str
    url_slug: str


class LegacyProjectRelation(ProjectRelation):
    """The older API's project relation, which also names the owner."""

    owner: ProjectOwnerUser | OrganizationRelation
    owner_type: Literal["user", "org"]


class Team(TeamRelation):
    users: list[UserRelation]
    # Older clients' teams belong to a project; null for organization teams.
    project: LegacyProjectRelation | None


class MembershipRelation(ResponseModel):
    team: TeamRelation
    role: RoleRelation
    organization: OrganizationRelation | None
    project: ProjectRelation | None
    environment: EnvironmentRelation | None
    created_at: Timestamp
    updated_at: Timestamp


class MemberRelation(ResponseModel):
    user: UserRelation
    created_at: Timestamp
    updated_at: Timestamp


class Member(MemberRelation):
    team: TeamRelation


class Invitation(ResponseModel):
    id: str
    type: TeamInvitationType
    email: str | None
    status: TeamInvitationStatus
    status_human_readable: str
    public_accept_url: str | None
    accepted_from_ip: str | None
    created_by_user: UserRelation | None
    team: TeamRelation
    accepted_at: Timestamp | None
    expires_at: Timestamp
    created_at: Timestamp
    updated_at: Timestamp


class InvitationRelation(Invitation):
    organization: OrganizationRelation | None

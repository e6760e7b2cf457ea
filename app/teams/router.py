"""HTTP for teams, their members, links (memberships) and invitations, as route tables: the
routes differ only in paths, names and the service call they make."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from app.access.auth import CurrentUserPrincipal
from app.access.routes import Route, add_routes, item_routes, param
from app.core.deps import ClientIP, MailerDep, SessionDep, SettingsDep
from app.teams import schemas
from app.teams.invitations import InvitationService
from app.teams.service import TeamService

router = APIRouter()

TAG = "Teams"
MEMBERS = "Teams - Members"
INVITATIONS = "Team Invitations"


async def get_service(session: SessionDep) -> TeamService:
    return TeamService(session)


async def get_invitation_service(
    session: SessionDep, settings: SettingsDep, mailer: MailerDep
) -> InvitationService:
    return InvitationService(session, settings, mailer)


Service = Annotated[TeamService, Depends(get_service)]
Invitations = Annotated[InvitationService, Depends(get_invitation_service)]

# What a team can be linked to: (kind, path prefix, operation id word).
TARGETS = [
    ("organization", "/organizations/{organization_id}", "Organization"),
    ("project", "/projects/{project_id:int}", "Project"),
    ("environment", "/environments/{environment_id:int}", "Environment"),
]


def _target_memberships(kind: str) -> Any:
    async def call(service: TeamService, principal: Any, page: Any, **ids: Any) -> Any:
        return await service.target_memberships(principal, kind, ids[f"{kind}_id"], page)
    return call


def _link(kind: str) -> Any:
    async def call(
        service: TeamService, principal: Any, team_id: int, data: Any, **ids: Any
    ) -> None:
        await service.link(principal, kind, ids[f"{kind}_id"], team_id, data.role_id)
    return call


def _unlink(kind: str) -> Any:
    async def call(service: TeamService, principal: Any, team_id: int, **ids: Any) -> None:
        await service.unlink(principal, kind, ids[f"{kind}_id"], team_id)
    return call


async def _invitations(service: InvitationService, principal: Any, team_id: int, page: Any) -> Any:
    return [service.present(i) for i in await service.invitations(principal, team_id, page)]


async def _invite(service: InvitationService, principal: Any, team_id: int, data: Any) -> Any:
    return service.present(await service.invite(principal, team_id, data))


async def _pending(service: InvitationService, principal: Any, page: Any) -> Any:
    return [service.present(i) for i in await service.pending_for(principal, page)]


async def _accept(
    service: InvitationService, principal: Any, team_invitation_id: str, ip: str, token: str | None
) -> None:
    await service.accept(principal, team_invitation_id, token, ip)


Relations = list[schemas.MembershipRelation]
add_routes(router, Service, [
    Route("GET", "/organizations/{organization_id}/teams", "listOrganizationTeams",
          "list_for_organization", list[schemas.TeamRelation], paged=True, tags=(TAG,)),
    Route("POST", "/organizations/{organization_id}/teams", "addOrganizationTeam",
          "create_in_organization", schemas.Team, 201, schemas.TeamCreate, tags=(TAG,)),
    Route("GET", "/projects/{project_id:int}/teams", "listProjectTeams", "list_for_project",
          list[schemas.TeamRelation], paged=True, tags=("Projects - Teams",)),
    Route("POST", "/projects/{project_id:int}/teams", "addProjectTeam", "create_in_project",
          schemas.Team, 201, schemas.TeamCreate, tags=("Projects - Teams",)),
    *item_routes("teams", "team_id", "Team", schemas.Team, schemas.TeamUpdate, (TAG,)),
    Route("GET", "/teams/{team_id:int}/members", "listTeamMembers", "members",
          list[schemas.MemberRelation], paged=True, tags=(MEMBERS,)),
    Route("GET", "/teams/{team_id:int}/members/{user_id:int}", "getTeamMember", "member",
          schemas.Member, tags=(MEMBERS,)),
    Route("DELETE", "/teams/{team_id:int}/members/{user_id:int}", "deleteTeamMember",
          "remove_member", None, 204, tags=(MEMBERS,)),
    Route("GET", "/teams/{team_id:int}/memberships", "listTeamMemberships", "memberships",
          Relations, paged=True, tags=(TAG,), extra=(param("filter_by", Annotated[
              schemas.MembershipTarget | None,
              Query(description="Only memberships linking the team to this kind of target"),
          ], None),)),
    *(Route("GET", f"{prefix}/team-memberships", f"list{word}TeamMemberships",
            _target_memberships(kind), Relations, paged=True, tags=(TAG,))
      for kind, prefix, word in TARGETS),
    *(route for kind, prefix, word in TARGETS for route in (
        Route("POST", f"{prefix}/teams/{{team_id:int}}/link", f"linkTeamTo{word}",
              _link(kind), None, 204, schemas.TeamLinkCreate, tags=(TAG,)),
        Route("DELETE", f"{prefix}/teams/{{team_id:int}}/unlink", f"unlinkTeamFrom{word}",
              _unlink(kind), None, 204, tags=(TAG,)),
    )),
])
# Registered after the team routes, in the order FastAPI matched them in one table.
add_routes(router, Invitations, [
    Route("GET", "/teams/{team_id:int}/invitations", "listTeamInvitations", _invitations,
          list[schemas.InvitationRelation], paged=True, tags=("Teams - Invitations",)),
    Route("POST", "/teams/{team_id:int}/invitations", "addTeamInvitation", _invite,
          schemas.Invitation, 201, schemas.InvitationCreate, tags=("Teams - Invitations",)),
    Route("GET", "/users/team-invitations", "listUserTeamInvitations", _pending,
          list[schemas.InvitationRelation], paged=True, principal=CurrentUserPrincipal,
          tags=("Users - Team Invitations",)),
    Route("POST", "/team-invitations/{team_invitation_id}/accept", "acceptTeamInvitation",
          _accept, None, 204, principal=CurrentUserPrincipal, tags=(INVITATIONS,),
          extra=(param("ip", ClientIP),
                 param("token", Annotated[str | None, Query(max_length=255)], None))),
    Route("POST", "/team-invitations/{team_invitation_id}/reject", "rejectTeamInvitation",
          "reject", None, 204, principal=CurrentUserPrincipal, tags=(INVITATIONS,)),
    Route("DELETE", "/team-invitations/{team_invitation_id}", "deleteTeamInvitation",
          "delete_invitation", None, 204, tags=(INVITATIONS,)),
])

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.access.auth import CurrentPrincipal, CurrentUserPrincipal
from app.core.deps import ClientIP, MailerDep, SessionDep, SettingsDep
from app.core.pagination import PageDep
from app.teams import schemas
from app.teams.models import Team, TeamLink, TeamMember
from app.teams.service import TeamService

router = APIRouter()

TAG = "Teams"


def get_service(session: SessionDep, settings: SettingsDep, mailer: MailerDep) -> TeamService:
    return TeamService(session, settings, mailer)


Service = Annotated[TeamService, Depends(get_service)]

# ---------------------------------------------------------------- teams


@router.get(
    "/organizations/{organization_id}/teams",
    operation_id="listOrganizationTeams",
    response_model=list[schemas.TeamRelation],
    tags=[TAG],
)
async def list_organization_teams(
    organization_id: str, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Team]:
    return await service.list_for_organization(principal, organization_id, page)


@router.post(
    "/organizations/{organization_id}/teams",
    operation_id="addOrganizationTeam",
    status_code=201,
    response_model=schemas.Team,
    tags=[TAG],
)
async def add_organization_team(
    organization_id: str, data: schemas.TeamCreate, service: Service, principal: CurrentPrincipal
) -> Team:
    return await service.create_in_organization(principal, organization_id, data)


@router.get(
    "/projects/{project_id:int}/teams",
    operation_id="listProjectTeams",
    response_model=list[schemas.TeamRelation],
    tags=["Projects - Teams"],
)
async def list_project_teams(
    project_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Team]:
    return await service.list_for_project(principal, project_id, page)


@router.post(
    "/projects/{project_id:int}/teams",
    operation_id="addProjectTeam",
    status_code=201,
    response_model=schemas.Team,
    tags=["Projects - Teams"],
)
async def add_project_team(
    project_id: int, data: schemas.TeamCreate, service: Service, principal: CurrentPrincipal
) -> Team:
    return await service.create_in_project(principal, project_id, data)


@router.get("/teams/{team_id:int}", operation_id="getTeam", response_model=schemas.Team, tags=[TAG])
async def get_team(team_id: int, service: Service, principal: CurrentPrincipal) -> Team:
    return await service.get(principal, team_id)


@router.put(
    "/teams/{team_id:int}",
    operation_id="updateTeam",
    tags=[TAG],
    status_code=204,
    response_class=Response,
)
async def update_team(
    team_id: int, data: schemas.TeamUpdate, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.update(principal, team_id, data)
    return Response(status_code=204)


@router.delete(
    "/teams/{team_id:int}",
    operation_id="deleteTeam",
    tags=[TAG],
    status_code=204,
    response_class=Response,
)
async def delete_team(team_id: int, service: Service, principal: CurrentPrincipal) -> Response:
    await service.delete(principal, team_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- members


@router.get(
    "/teams/{team_id:int}/members",
    operation_id="listTeamMembers",
    response_model=list[schemas.MemberRelation],
    tags=["Teams - Members"],
)
async def list_team_members(
    team_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[TeamMember]:
    return await service.members(principal, team_id, page)


@router.get(
    "/teams/{team_id:int}/members/{user_id:int}",
    operation_id="getTeamMember",
    response_model=schemas.Member,
    tags=["Teams - Members"],
)
async def get_team_member(
    team_id: int, user_id: int, service: Service, principal: CurrentPrincipal
) -> TeamMember:
    return await service.member(principal, team_id, user_id)


@router.delete(
    "/teams/{team_id:int}/members/{user_id:int}",
    operation_id="deleteTeamMember",
    tags=["Teams - Members"],
    status_code=204,
    response_class=Response,
)
async def delete_team_member(
    team_id: int, user_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.remove_member(principal, team_id, user_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- links (memberships)


@router.get(
    "/teams/{team_id:int}/memberships",
    operation_id="listTeamMemberships",
    response_model=list[schemas.MembershipRelation],
    tags=[TAG],
)
async def list_team_memberships(
    team_id: int,
    service: Service,
    principal: CurrentPrincipal,
    page: PageDep,
    filter_by: Annotated[
        schemas.MembershipTarget | None,
        Query(description="Only memberships linking the team to this kind of target"),
    ] = None,
) -> Sequence[TeamLink]:
    return await service.memberships(principal, team_id, page, filter_by)


@router.get(
    "/organizations/{organization_id}/team-memberships",
    operation_id="listOrganizationTeamMemberships",
    response_model=list[schemas.MembershipRelation],
    tags=[TAG],
)
async def list_organization_team_memberships(
    organization_id: str, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[TeamLink]:
    return await service.target_memberships(principal, "organization", organization_id, page)


@router.get(
    "/projects/{project_id:int}/team-memberships",
    operation_id="listProjectTeamMemberships",
    response_model=list[schemas.MembershipRelation],
    tags=[TAG],
)
async def list_project_team_memberships(
    project_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[TeamLink]:
    return await service.target_memberships(principal, "project", project_id, page)


@router.get(
    "/environments/{environment_id:int}/team-memberships",
    operation_id="listEnvironmentTeamMemberships",
    response_model=list[schemas.MembershipRelation],
    tags=[TAG],
)
async def list_environment_team_memberships(
    environment_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[TeamLink]:
    return await service.target_memberships(principal, "environment", environment_id, page)


@router.post(
    "/organizations/{organization_id}/teams/{team_id:int}/link",
    operation_id="linkTeamToOrganization",
    tags=[TAG],
    status_code=204,
    response_class=Response,
)
async def link_team_to_organization(
    organization_id: str,
    team_id: int,
    data: schemas.TeamLinkCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> Response:
    await service.link(principal, "organization", organization_id, team_id, data.role_id)
    return Response(status_code=204)


@router.delete(
    "/organizations/{organization_id}/teams/{team_id:int}/unlink",
    operation_id="unlinkTeamFromOrganization",
    tags=[TAG],
    status_code=204,
    response_class=Response,
)
async def unlink_team_from_organization(
    organization_id: str, team_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.unlink(principal, "organization", organization_id, team_id)
    return Response(status_code=204)


@router.post(
    "/projects/{project_id:int}/teams/{team_id:int}/link",
    operation_id="linkTeamToProject",
    tags=[TAG],
    status_code=204,
    response_class=Response,
)
async def link_team_to_project(
    project_id: int,
    team_id: int,
    data: schemas.TeamLinkCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> Response:
    await service.link(principal, "project", project_id, team_id, data.role_id)
    return Response(status_code=204)


@router.delete(
    "/projects/{project_id:int}/teams/{team_id:int}/unlink",
    operation_id="unlinkTeamFromProject",
    tags=[TAG],
    status_code=204,
    response_class=Response,
)
async def unlink_team_from_project(
    project_id: int, team_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.unlink(principal, "project", project_id, team_id)
    return Response(status_code=204)


@router.post(
    "/environments/{environment_id:int}/teams/{team_id:int}/link",
    operation_id="linkTeamToEnvironment",
    tags=[TAG],
    status_code=204,
    response_class=Response,
)
async def link_team_to_environment(
    environment_id: int,
    team_id: int,
    data: schemas.TeamLinkCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> Response:
    await service.link(principal, "environment", environment_id, team_id, data.role_id)
    return Response(status_code=204)


@router.delete(
    "/environments/{environment_id:int}/teams/{team_id:int}/unlink",
    operation_id="unlinkTeamFromEnvironment",
    tags=[TAG],
    status_code=204,
    response_class=Response,
)
async def unlink_team_from_environment(
    environment_id: int, team_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.unlink(principal, "environment", environment_id, team_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- invitations


@router.get(
    "/teams/{team_id:int}/invitations",
    operation_id="listTeamInvitations",
    response_model=list[schemas.InvitationRelation],
    tags=["Teams - Invitations"],
)
async def list_team_invitations(
    team_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> list[schemas.InvitationRelation]:
    return [service.present(i) for i in await service.invitations(principal, team_id, page)]


@router.post(
    "/teams/{team_id:int}/invitations",
    operation_id="addTeamInvitation",
    status_code=201,
    response_model=schemas.Invitation,
    tags=["Teams - Invitations"],
)
async def add_team_invitation(
    team_id: int, data: schemas.InvitationCreate, service: Service, principal: CurrentPrincipal
) -> schemas.InvitationRelation:
    return service.present(await service.invite(principal, team_id, data))


@router.get(
    "/users/team-invitations",
    operation_id="listUserTeamInvitations",
    response_model=list[schemas.InvitationRelation],
    tags=["Users - Team Invitations"],
)
async def list_user_team_invitations(
    service: Service, principal: CurrentUserPrincipal, page: PageDep
) -> list[schemas.InvitationRelation]:
    return [service.present(i) for i in await service.pending_for(principal, page)]


@router.post(
    "/team-invitations/{team_invitation_id}/accept",
    operation_id="acceptTeamInvitation",
    tags=["Team Invitations"],
    status_code=204,
    response_class=Response,
)
async def accept_team_invitation(
    team_invitation_id: str,
    service: Service,
    principal: CurrentUserPrincipal,
    ip: ClientIP,
    token: Annotated[str | None, Query(max_length=255)] = None,
) -> Response:
    await service.accept(principal, team_invitation_id, token, ip)
    return Response(status_code=204)


@router.post(
    "/team-invitations/{team_invitation_id}/reject",
    operation_id="rejectTeamInvitation",
    tags=["Team Invitations"],
    status_code=204,
    response_class=Response,
)
async def reject_team_invitation(
    team_invitation_id: str, service: Service, principal: CurrentUserPrincipal
) -> Response:
    await service.reject(principal, team_invitation_id)
    return Response(status_code=204)


@router.delete(
    "/team-invitations/{team_invitation_id}",
    operation_id="deleteTeamInvitation",
    tags=["Team Invitations"],
    status_code=204,
    response_class=Response,
)
async def delete_team_invitation(
    team_invitation_id: str, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.delete_invitation(principal, team_invitation_id)
    return Response(status_code=204)

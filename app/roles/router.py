from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access.auth import CurrentPrincipal
from app.core.deps import SessionDep
from app.core.pagination import PageDep
from app.roles import schemas
from app.roles.models import Role
from app.roles.service import RoleService, permission_catalogue

router = APIRouter()

TAG = "Roles"
PROJECT_TAG = "Projects - Roles"


def get_service(session: SessionDep) -> RoleService:
    return RoleService(session)


Service = Annotated[RoleService, Depends(get_service)]


@router.get(
    "/static/permissions",
    operation_id="listStaticPermissions",
    response_model=list[schemas.PermissionRelation],
    tags=["Static Data"],
)
async def list_static_permissions(principal: CurrentPrincipal) -> list[schemas.PermissionRelation]:
    # Static lists ignore `per_page` and answer everything at once, as the reference says.
    return permission_catalogue()


@router.get(
    "/organizations/{organization_id}/roles",
    operation_id="listOrganizationRoles",
    response_model=list[schemas.RoleRelation],
    tags=[TAG],
)
async def list_organization_roles(
    organization_id: str, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Role]:
    return await service.list_for_organization(principal, organization_id, page)


@router.post(
    "/organizations/{organization_id}/roles",
    operation_id="addOrganizationRole",
    status_code=201,
    response_model=schemas.Role,
    tags=[TAG],
)
async def add_organization_role(
    organization_id: str, data: schemas.RoleCreate, service: Service, principal: CurrentPrincipal
) -> Role:
    return await service.create_in_organization(principal, organization_id, data)


@router.get(
    "/projects/{project_id:int}/roles",
    operation_id="listProjectRoles",
    response_model=list[schemas.RoleRelation],
    tags=[PROJECT_TAG],
)
async def list_project_roles(
    project_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Role]:
    return await service.list_for_project(principal, project_id, page)


@router.post(
    "/projects/{project_id:int}/roles",
    operation_id="addProjectRole",
    status_code=201,
    response_model=schemas.Role,
    tags=[PROJECT_TAG],
)
async def add_project_role(
    project_id: int, data: schemas.RoleCreate, service: Service, principal: CurrentPrincipal
) -> Role:
    return await service.create_in_project(principal, project_id, data)


@router.get("/roles/{role_id:int}", operation_id="getRole", response_model=schemas.Role, tags=[TAG])
async def get_role(role_id: int, service: Service, principal: CurrentPrincipal) -> Role:
    return await service.get(principal, role_id)


@router.put(
    "/roles/{role_id:int}",
    operation_id="updateRole",
    status_code=204,
    response_class=Response,
    tags=[TAG],
)
async def update_role(
    role_id: int, data: schemas.RoleUpdate, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.update(principal, role_id, data)
    return Response(status_code=204)


@router.delete(
    "/roles/{role_id:int}",
    operation_id="deleteRole",
    status_code=204,
    response_class=Response,
    tags=[TAG],
)
async def delete_role(role_id: int, service: Service, principal: CurrentPrincipal) -> Response:
    await service.delete(principal, role_id)
    return Response(status_code=204)

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.access.auth import CurrentPrincipal
from app.access.routes import Route, add_routes, item_routes
from app.core.deps import SessionDep
from app.roles import schemas
from app.roles.service import RoleService, permission_catalogue

router = APIRouter()

TAG = "Roles"
PROJECT_TAG = "Projects - Roles"


@router.get(
    "/static/permissions",
    operation_id="listStaticPermissions",
    response_model=list[schemas.PermissionRelation],
    tags=["Static Data"],
)
async def list_static_permissions(principal: CurrentPrincipal) -> list[schemas.PermissionRelation]:
    # Static lists ignore `per_page` and answer everything at once, as the reference says.
    return permission_catalogue()


async def get_service(session: SessionDep) -> RoleService:
    return RoleService(session)


Service = Annotated[RoleService, Depends(get_service)]


add_routes(router, Service, [
    Route("GET", "/organizations/{organization_id}/roles", "listOrganizationRoles",
          "list_for_organization", list[schemas.RoleRelation], paged=True, tags=(TAG,)),
    Route("POST", "/organizations/{organization_id}/roles", "addOrganizationRole",
          "create_in_organization", schemas.Role, 201, schemas.RoleCreate, tags=(TAG,)),
    Route("GET", "/projects/{project_id:int}/roles", "listProjectRoles", "list_for_project",
          list[schemas.RoleRelation], paged=True, tags=(PROJECT_TAG,)),
    Route("POST", "/projects/{project_id:int}/roles", "addProjectRole", "create_in_project",
          schemas.Role, 201, schemas.RoleCreate, tags=(PROJECT_TAG,)),
    *item_routes("roles", "role_id", "Role", schemas.Role, schemas.RoleUpdate, (TAG,)),
])

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query

from app.access.auth import CurrentPrincipal, CurrentUserPrincipal
from app.access.routes import Route, add_routes, param
from app.core.deps import SessionDep
from app.core.schemas import ResourceSummaryItem
from app.projects import schemas
from app.projects.models import Project
from app.projects.service import ProjectService

router = APIRouter()

TAG = "Projects"


async def get_service(session: SessionDep) -> ProjectService:
    return ProjectService(session)


Service = Annotated[ProjectService, Depends(get_service)]


async def _present(service: ProjectService, project: Project) -> schemas.Project:
    return _body(project, await service.summary(project))


def _body(project: Project, summary: list[ResourceSummaryItem]) -> schemas.Project:
    body = schemas.Project.model_validate(project)
    body.resource_summary = summary
    return body


async def add_project(
    data: Annotated[schemas.ProjectCreate, Body()],
    service: Service,
    principal: CurrentUserPrincipal,
) -> schemas.Project:
    return await _present(service, await service.create_personal(principal, data))


async def add_organization_project(
    organization_id: str,
    data: schemas.ProjectCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> schemas.Project:
    return await _present(
        service, await service.create_in_organization(principal, organization_id, data)
    )


async def get_project(
    project_id: int, service: Service, principal: CurrentPrincipal
) -> schemas.Project:
    return _body(*await service.get(principal, project_id))


add_routes(router, Service, [
    Route("GET", "/projects", "listProjects", "list_readable", list[schemas.ProjectRelation],
          paged=True,
          extra=(param("owner", Annotated[
        str | None, Query(max_length=255, description="Owner user or organization, id or slug")
    ], None),),
          tags=(TAG,)),
    Route("POST", "/projects", "addProject", add_project, schemas.Project, 201,
          Annotated[schemas.ProjectCreate, Body()], principal=CurrentUserPrincipal, tags=(TAG,),
          options={"deprecated": True}),
    Route("POST", "/organizations/{organization_id}/projects", "addOrganizationProject",
          add_organization_project, schemas.Project, 201, schemas.ProjectCreate, tags=(TAG,)),
    Route("GET", "/projects/{project_id:int}", "getProject", get_project, schemas.Project,
          tags=(TAG,)),
    Route("PUT", "/projects/{project_id:int}", "updateProject", "update", None, 204,
          schemas.ProjectUpdate, tags=(TAG,)),
    Route("DELETE", "/projects/{project_id:int}", "deleteProject", "delete", None, 204,
          tags=(TAG,)),
    Route("GET", "/users/{user_id}/projects", "listUserProjects",
          lambda user_id, service, principal, page, subscription_id:
              service.list_owned_by(principal, user_id, page), list[schemas.ProjectRelation],
          paged=True, extra=(param("subscription_id", Annotated[int | None, Query(ge=1)], None),),
          principal=CurrentUserPrincipal, tags=("Users - Projects",)),
])

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response

from app.core.auth import CurrentPrincipal, CurrentUserPrincipal
from app.core.deps import SessionDep
from app.core.pagination import PageDep
from app.projects import schemas
from app.projects.models import Project
from app.projects.service import ProjectService

router = APIRouter()

TAG = "Projects"


async def get_service(session: SessionDep) -> ProjectService:
    return ProjectService(session)


Service = Annotated[ProjectService, Depends(get_service)]


async def _present(service: ProjectService, project: Project) -> schemas.Project:
    body = schemas.Project.model_validate(project)
    body.resource_summary = await service.summary(project)
    return body


@router.get(
    "/projects",
    tags=[TAG],
    operation_id="listProjects",
    response_model=list[schemas.ProjectRelation],
)
async def list_projects(
    service: Service,
    principal: CurrentPrincipal,
    page: PageDep,
    owner: Annotated[
        str | None, Query(max_length=255, description="Owner user or organization, id or slug")
    ] = None,
) -> Sequence[Project]:
    return await service.list_readable(principal, page, owner)


@router.post(
    "/projects",
    tags=[TAG],
    operation_id="addProject",
    status_code=201,
    response_model=schemas.Project,
    deprecated=True,
)
async def add_project(
    data: Annotated[schemas.ProjectCreate, Body()],
    service: Service,
    principal: CurrentUserPrincipal,
) -> schemas.Project:
    return await _present(service, await service.create_personal(principal, data))


@router.post(
    "/organizations/{organization_id}/projects",
    tags=[TAG],
    operation_id="addOrganizationProject",
    status_code=201,
    response_model=schemas.Project,
)
async def add_organization_project(
    organization_id: str,
    data: schemas.ProjectCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> schemas.Project:
    return await _present(
        service, await service.create_in_organization(principal, organization_id, data)
    )


@router.get(
    "/projects/{project_id:int}",
    tags=[TAG],
    operation_id="getProject",
    response_model=schemas.Project,
)
async def get_project(
    project_id: int, service: Service, principal: CurrentPrincipal
) -> schemas.Project:
    return await _present(service, await service.get(principal, project_id))


@router.put(
    "/projects/{project_id:int}",
    tags=[TAG],
    operation_id="updateProject",
    status_code=204,
    response_class=Response,
)
async def update_project(
    project_id: int, data: schemas.ProjectUpdate, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.update(principal, project_id, data)
    return Response(status_code=204)


@router.delete(
    "/projects/{project_id:int}",
    tags=[TAG],
    operation_id="deleteProject",
    status_code=204,
    response_class=Response,
)
async def delete_project(
    project_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, project_id)
    return Response(status_code=204)


@router.get(
    "/users/{user_id}/projects",
    operation_id="listUserProjects",
    response_model=list[schemas.ProjectRelation],
    tags=["Users - Projects"],
)
async def list_user_projects(
    user_id: str,
    service: Service,
    principal: CurrentUserPrincipal,
    page: PageDep,
    subscription_id: Annotated[int | None, Query(ge=1)] = None,
) -> Sequence[Project]:
    # A self-hosted server meters nothing, so `subscription_id` changes no field.
    return await service.list_owned_by(principal, user_id, page)

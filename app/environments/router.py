from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.core.auth import CurrentPrincipal, CurrentUserPrincipal
from app.core.deps import SessionDep, SettingsDep
from app.core.pagination import PageDep
from app.environments import schemas
from app.environments.models import Environment
from app.environments.service import EnvironmentService

router = APIRouter()

TAG = "Environments"


async def get_service(session: SessionDep, settings: SettingsDep) -> EnvironmentService:
    return EnvironmentService(session, settings)


Service = Annotated[EnvironmentService, Depends(get_service)]


async def _present(service: EnvironmentService, environment: Environment) -> schemas.Environment:
    body = schemas.Environment.model_validate(environment)
    body.resource_summary = await service.summary(environment)
    body.teams = [
        schemas.EnvironmentTeam.model_validate(t) for t in await service.teams(environment)
    ]
    return body


@router.get(
    "/projects/{project_id:int}/environments",
    operation_id="listProjectEnvironments",
    response_model=list[schemas.EnvironmentRelation],
    tags=["Projects - Environments"],
)
async def list_project_environments(
    project_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Environment]:
    return await service.list_for_project(principal, project_id, page, archived=False)


@router.post(
    "/projects/{project_id:int}/environments",
    operation_id="addProjectEnvironment",
    status_code=201,
    response_model=schemas.Environment,
    tags=["Projects - Environments"],
)
async def add_project_environment(
    project_id: int, data: schemas.EnvironmentCreate, service: Service, principal: CurrentPrincipal
) -> schemas.Environment:
    return await _present(service, await service.create(principal, project_id, data))


@router.get(
    "/projects/{project_id:int}/environments/archived",
    operation_id="listProjectArchivedEnvironments",
    response_model=list[schemas.EnvironmentRelation],
    tags=["Projects - Archived Environments"],
)
async def list_project_archived_environments(
    project_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Environment]:
    return await service.list_for_project(principal, project_id, page, archived=True)


@router.get(
    "/environments/{environment_id:int}",
    operation_id="getEnvironment",
    response_model=schemas.Environment,
    tags=[TAG],
)
async def get_environment(
    environment_id: int, service: Service, principal: CurrentPrincipal
) -> schemas.Environment:
    return await _present(service, await service.get(principal, environment_id))


@router.put(
    "/environments/{environment_id:int}",
    operation_id="updateEnvironment",
    status_code=204,
    response_class=Response,
    tags=[TAG],
)
async def update_environment(
    environment_id: int,
    data: schemas.EnvironmentUpdate,
    service: Service,
    principal: CurrentPrincipal,
) -> Response:
    await service.update(principal, environment_id, data)
    return Response(status_code=204)


@router.delete(
    "/environments/{environment_id:int}",
    operation_id="deleteEnvironment",
    status_code=204,
    response_class=Response,
    tags=[TAG],
)
async def delete_environment(
    environment_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, environment_id)
    return Response(status_code=204)


@router.post(
    "/environments/{environment_id:int}/archive",
    operation_id="archiveEnvironment",
    status_code=204,
    response_class=Response,
    tags=[TAG],
)
async def archive_environment(
    environment_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.set_archived(principal, environment_id, True)
    return Response(status_code=204)


@router.post(
    "/environments/{environment_id:int}/unarchive",
    operation_id="unarchiveEnvironment",
    status_code=204,
    response_class=Response,
    tags=[TAG],
)
async def unarchive_environment(
    environment_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.set_archived(principal, environment_id, False)
    return Response(status_code=204)


@router.get(
    "/users/{user_id}/environments",
    operation_id="listUserEnvironments",
    response_model=list[schemas.EnvironmentRelation],
    tags=["Users - Environments"],
)
async def list_user_environments(
    user_id: str,
    service: Service,
    principal: CurrentUserPrincipal,
    page: PageDep,
    subscription_id: Annotated[int | None, Query(ge=1)] = None,
) -> Sequence[Environment]:
    # A self-hosted server meters nothing, so `subscription_id` changes no field.
    return await service.list_owned_by(principal, user_id, page)

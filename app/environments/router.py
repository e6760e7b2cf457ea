from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.access.auth import CurrentPrincipal, CurrentUserPrincipal, Principal
from app.access.routes import Route, add_routes, param
from app.core.deps import SessionDep, SettingsDep
from app.core.pagination import PageParams
from app.environments import schemas
from app.environments.models import Environment
from app.environments.service import EnvironmentService
from app.projects.schemas import ProjectRelation

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


async def list_project_environments(
    project_id: int, service: EnvironmentService, principal: Principal, page: PageParams,
    *, archived: bool,
) -> list[schemas.EnvironmentRelation]:
    listed = await service.list_for_project(principal, project_id, page, archived=archived)
    project = ProjectRelation.model_validate(listed.project)
    return schemas.project_environment_relations(project, (r._mapping for r in listed.rows))


async def add_project_environment(
    project_id: int, data: schemas.EnvironmentCreate, service: Service, principal: CurrentPrincipal
) -> schemas.Environment:
    return await _present(service, await service.create(principal, project_id, data))


async def get_environment(
    environment_id: int, service: Service, principal: CurrentPrincipal
) -> schemas.Environment:
    return await _present(service, await service.get(principal, environment_id))


add_routes(router, Service, [
    Route("GET", "/projects/{project_id:int}/environments", "listProjectEnvironments",
          lambda project_id, service, principal, page:
              list_project_environments(project_id, service, principal, page, archived=False),
          list[schemas.EnvironmentRelation], paged=True, tags=("Projects - Environments",)),
    Route("POST", "/projects/{project_id:int}/environments", "addProjectEnvironment",
          add_project_environment, schemas.Environment, 201, schemas.EnvironmentCreate,
          tags=("Projects - Environments",)),
    Route("GET", "/projects/{project_id:int}/environments/archived",
          "listProjectArchivedEnvironments",
          lambda project_id, service, principal, page:
              list_project_environments(project_id, service, principal, page, archived=True),
          list[schemas.EnvironmentRelation], paged=True,
          tags=("Projects - Archived Environments",)),
    Route("GET", "/environments/{environment_id:int}", "getEnvironment", get_environment,
          schemas.Environment, tags=(TAG,)),
    Route("PUT", "/environments/{environment_id:int}", "updateEnvironment", "update", None, 204,
          schemas.EnvironmentUpdate, tags=(TAG,)),
    Route("DELETE", "/environments/{environment_id:int}", "deleteEnvironment", "delete", None, 204,
          tags=(TAG,)),
    Route("POST", "/environments/{environment_id:int}/archive", "archiveEnvironment",
          lambda environment_id, service, principal:
              service.set_archived(principal, environment_id, True), None, 204, tags=(TAG,)),
    Route("POST", "/environments/{environment_id:int}/unarchive", "unarchiveEnvironment",
          lambda environment_id, service, principal:
              service.set_archived(principal, environment_id, False), None, 204, tags=(TAG,)),
    Route("GET", "/users/{user_id}/environments", "listUserEnvironments",
          lambda user_id, service, principal, page, subscription_id:
              service.list_owned_by(principal, user_id, page), list[schemas.EnvironmentRelation],
          paged=True, extra=(param("subscription_id", Annotated[int | None, Query(ge=1)], None),),
          principal=CurrentUserPrincipal, tags=("Users - Environments",)),
])

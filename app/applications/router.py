from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.access.auth import CurrentPrincipal, Principal
from app.access.routes import Route, add_routes, param
from app.applications import schemas
from app.applications.models import Application
from app.applications.service import ApplicationService
from app.core.deps import SessionDep
from app.core.pagination import PageParams
from app.resources_common.router import action_response, environment_resource_routes

router = APIRouter(tags=["Applications"])


async def get_service(session: SessionDep) -> ApplicationService:
    return ApplicationService(session)


Service = Annotated[ApplicationService, Depends(get_service)]


ROUTES = environment_resource_routes(
    "applications", "application_id", "Application", "Applications",
    (schemas.Application, schemas.ApplicationRelation, schemas.ApplicationEnvironmentCreate,
     schemas.ApplicationUpdate),
)


async def list_environment_applications(
    environment_id: int, service: ApplicationService, principal: Principal, page: PageParams,
    name: str | None = None,
) -> Sequence[Application]:
    if name:
        return await service.search(principal, environment_id, name, page)
    return await service.list(principal, environment_id, page)


# The list also searches by name (`filter[name]`, case-insensitive).
LIST = replace(ROUTES[0], call=list_environment_applications, extra=(
    param("name", Annotated[str | None, Query(alias="filter[name]", max_length=255)], None),
))
add_routes(router, Service, [LIST, ROUTES[1]])


async def apply_template_environment_application(
    environment_id: int,
    data: schemas.ApplicationEnvironmentApplyTemplate,
    service: Service,
    principal: CurrentPrincipal,
) -> Application:
    await service.apply_template(principal, environment_id, data)


add_routes(router, Service, [
    Route("POST", "/environments/{environment_id:int}/applications/apply-template",
          "applyTemplateEnvironmentApplication", apply_template_environment_application,
          schemas.Application, 201, schemas.ApplicationEnvironmentApplyTemplate),
])


add_routes(router, Service, ROUTES[2:])


async def add_application_deployment(
    application_id: int,
    data: schemas.DeploymentApplicationCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> Response:
    return action_response(await service.deploy(principal, application_id, data))


add_routes(router, Service, [
    Route("POST", "/applications/{application_id:int}/deployments", "addApplicationDeployment",
          add_application_deployment, None, 204, schemas.DeploymentApplicationCreate),
])

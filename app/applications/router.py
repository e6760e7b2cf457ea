from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.applications import schemas
from app.applications.models import Application
from app.applications.service import ApplicationService
from app.core.auth import CurrentPrincipal
from app.core.deps import SessionDep
from app.core.pagination import PageDep
from app.resources_common.router import action_response, no_content

router = APIRouter(tags=["Applications"])


async def get_service(session: SessionDep) -> ApplicationService:
    return ApplicationService(session)


Service = Annotated[ApplicationService, Depends(get_service)]


@router.get(
    "/environments/{environment_id:int}/applications",
    operation_id="listEnvironmentApplications",
    response_model=list[schemas.ApplicationRelation],
)
async def list_environment_applications(
    environment_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Application]:
    return await service.list(principal, environment_id, page)


@router.post(
    "/environments/{environment_id:int}/applications",
    operation_id="addEnvironmentApplication",
    status_code=201,
    response_model=schemas.Application,
)
async def add_environment_application(
    environment_id: int,
    data: schemas.ApplicationEnvironmentCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> Application:
    return await service.create(principal, environment_id, data)


@router.post(
    "/environments/{environment_id:int}/applications/apply-template",
    operation_id="applyTemplateEnvironmentApplication",
    status_code=201,
    response_model=schemas.Application,
)
async def apply_template_environment_application(
    environment_id: int,
    data: schemas.ApplicationEnvironmentApplyTemplate,
    service: Service,
    principal: CurrentPrincipal,
) -> Application:
    await service.apply_template(principal, environment_id, data)


@router.get(
    "/applications/{application_id:int}",
    operation_id="getApplication",
    response_model=schemas.Application,
)
async def get_application(
    application_id: int, service: Service, principal: CurrentPrincipal
) -> Application:
    return await service.get(principal, application_id)


@router.put(
    "/applications/{application_id:int}", operation_id="updateApplication", status_code=204,
    response_class=Response,
)
async def update_application(
    application_id: int,
    data: schemas.ApplicationUpdate,
    service: Service,
    principal: CurrentPrincipal,
) -> Response:
    await service.update(principal, application_id, data)
    return no_content()


@router.delete(
    "/applications/{application_id:int}", operation_id="deleteApplication", status_code=204,
    response_class=Response,
)
async def delete_application(
    application_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, application_id)
    return no_content()


@router.post(
    "/applications/{application_id:int}/deployments",
    operation_id="addApplicationDeployment",
    status_code=204,
    response_class=Response,
)
async def add_application_deployment(
    application_id: int,
    data: schemas.DeploymentApplicationCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> Response:
    return action_response(await service.deploy(principal, application_id, data))

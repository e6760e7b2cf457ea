from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.access.auth import CurrentPrincipal
from app.core.deps import SessionDep, SettingsDep
from app.core.pagination import PageDep
from app.resources_common.router import no_content
from app.variables import schemas
from app.variables.models import Variable
from app.variables.service import VariableService

router = APIRouter()


def get_service(session: SessionDep, settings: SettingsDep) -> VariableService:
    return VariableService(session, settings)


Service = Annotated[VariableService, Depends(get_service)]
TAG = "Variables"


@router.get(
    "/variables/{resource_type}/{resource_id:int}",
    operation_id="listVariablesByResourceType",
    response_model=list[schemas.VariableRelation],
    tags=[TAG],
)
async def list_variables_by_resource_type(
    resource_type: str,
    resource_id: int,
    service: Service,
    principal: CurrentPrincipal,
    page: PageDep,
    variable_target: Annotated[str | None, Query(max_length=64)] = None,
    # This server computes no virtual variables, so there is nothing extra to include.
    include_virtual_variables: bool = True,
) -> Sequence[Variable]:
    del include_virtual_variables
    return await service.list(principal, resource_type, resource_id, page, variable_target)


@router.post(
    "/variables/{resource_type}/{resource_id:int}",
    operation_id="addVariable",
    status_code=201,
    response_model=schemas.Variable,
    tags=[TAG],
)
async def add_variable(
    resource_type: str,
    resource_id: int,
    data: schemas.VariableCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> Variable:
    return await service.create(principal, resource_type, resource_id, data)


@router.get(
    "/variables/{variable_id:int}",
    operation_id="getVariable",
    response_model=schemas.Variable,
    tags=[TAG],
)
async def get_variable(variable_id: int, service: Service, principal: CurrentPrincipal) -> Variable:
    return await service.get(principal, variable_id)


@router.put(
    "/variables/{variable_id:int}",
    operation_id="updateVariable",
    status_code=204,
    response_class=Response,
    tags=[TAG],
)
async def update_variable(
    variable_id: int, data: schemas.VariableUpdate, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.update(principal, variable_id, data)
    return no_content()


@router.delete(
    "/variables/{variable_id:int}",
    operation_id="deleteVariable",
    status_code=204,
    response_class=Response,
    tags=[TAG],
)
async def delete_variable(
    variable_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, variable_id)
    return no_content()


# Deprecated per-resource routes: older clients still call them; same rules as above.


@router.get(
    "/applications/{application_id:int}/variables",
    operation_id="listApplicationVariables",
    response_model=list[schemas.VariableRelation],
    tags=["Applications - Variables"],
    deprecated=True,
)
async def list_application_variables(
    application_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Variable]:
    return await service.list(principal, "application", application_id, page)


@router.post(
    "/applications/{application_id:int}/variables",
    operation_id="addApplicationVariable",
    status_code=201,
    response_model=schemas.Variable,
    tags=["Applications - Variables"],
    deprecated=True,
)
async def add_application_variable(
    application_id: int,
    data: schemas.VariableCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> Variable:
    return await service.create(principal, "application", application_id, data)


@router.get(
    "/services/{service_id:int}/variables",
    operation_id="listServiceVariables",
    response_model=list[schemas.VariableRelation],
    tags=["Services - Variables"],
    deprecated=True,
)
async def list_service_variables(
    service_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Variable]:
    return await service.list(principal, "service", service_id, page)


@router.post(
    "/services/{service_id:int}/variables",
    operation_id="addServiceVariable",
    status_code=201,
    response_model=schemas.Variable,
    tags=["Services - Variables"],
    deprecated=True,
)
async def add_service_variable(
    service_id: int,
    data: schemas.VariableCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> Variable:
    return await service.create(principal, "service", service_id, data)

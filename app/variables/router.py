from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.core.auth import CurrentPrincipal
from app.core.deps import SessionDep, SettingsDep
from app.core.pagination import PageDep
from app.resources_common.router import Route, add_routes
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


add_routes(router, Service, [
    Route("POST", "/variables/{resource_type}/{resource_id:int}", "addVariable", "create",
          schemas.Variable, 201, schemas.VariableCreate, tags=(TAG,)),
    Route("GET", "/variables/{variable_id:int}", "getVariable", "get", schemas.Variable,
          tags=(TAG,)),
    Route("PUT", "/variables/{variable_id:int}", "updateVariable", "update", None, 204,
          schemas.VariableUpdate, tags=(TAG,)),
    Route("DELETE", "/variables/{variable_id:int}", "deleteVariable", "delete", None, 204,
          tags=(TAG,)),
])


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

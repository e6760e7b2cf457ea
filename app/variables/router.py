from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.access.auth import CurrentPrincipal
from app.access.routes import Route, add_routes, item_routes, param
from app.core.deps import SessionDep, SettingsDep
from app.core.pagination import PageDep
from app.variables import schemas
from app.variables.models import Variable
from app.variables.service import VariableService

router = APIRouter()


async def get_service(session: SessionDep, settings: SettingsDep) -> VariableService:
    return VariableService(session, settings)


Service = Annotated[VariableService, Depends(get_service)]
TAG = "Variables"


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
    Route("GET", "/variables/{resource_type}/{resource_id:int}", "listVariablesByResourceType",
          list_variables_by_resource_type, list[schemas.VariableRelation], paged=True,
          extra=(param("variable_target", Annotated[str | None, Query(max_length=64)], None),
                 param("include_virtual_variables", bool, True)),
          tags=(TAG,)),
    Route("POST", "/variables/{resource_type}/{resource_id:int}", "addVariable", "create",
          schemas.Variable, 201, schemas.VariableCreate, tags=(TAG,)),
    *item_routes("variables", "variable_id", "Variable", schemas.Variable,
                 schemas.VariableUpdate, (TAG,)),
    Route("GET", "/applications/{application_id:int}/variables", "listApplicationVariables",
          lambda application_id, service, principal, page:
              service.list(principal, 'application', application_id, page),
          list[schemas.VariableRelation], paged=True, tags=("Applications - Variables",),
          options={"deprecated": True}),
    Route("POST", "/applications/{application_id:int}/variables", "addApplicationVariable",
          lambda application_id, data, service, principal:
              service.create(principal, 'application', application_id, data), schemas.Variable, 201,
          schemas.VariableCreate, tags=("Applications - Variables",), options={"deprecated": True}),
    Route("GET", "/services/{service_id:int}/variables", "listServiceVariables",
          lambda service_id, service, principal, page:
              service.list(principal, 'service', service_id, page), list[schemas.VariableRelation],
          paged=True, tags=("Services - Variables",), options={"deprecated": True}),
    Route("POST", "/services/{service_id:int}/variables", "addServiceVariable",
          lambda service_id, data, service, principal:
              service.create(principal, 'service', service_id, data), schemas.Variable, 201,
          schemas.VariableCreate, tags=("Services - Variables",), options={"deprecated": True}),
])

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.core.deps import SessionDep
from app.resources_common.router import Route, add_operation_routes, add_routes
from app.services import schemas
from app.services.service import ServiceService

router = APIRouter(tags=["Services"])


def get_service(session: SessionDep) -> ServiceService:
    return ServiceService(session)


ServiceDep = Annotated[ServiceService, Depends(get_service)]


add_routes(router, ServiceDep, [
    Route("GET", "/environments/{environment_id:int}/services", "listEnvironmentServices", "list",
          list[schemas.ServiceRelation], paged=True),
    Route("POST", "/environments/{environment_id:int}/services", "addEnvironmentService", "create",
          schemas.Service, 201, schemas.ServiceEnvironmentCreate),
    Route("GET", "/services/{service_id:int}", "getService", "get", schemas.Service,
          name="get_service_by_id"),
    Route("PUT", "/services/{service_id:int}", "updateService", "update", None, 204,
          schemas.ServiceUpdate),
    Route("DELETE", "/services/{service_id:int}", "deleteService", "delete", None, 204),
])


add_operation_routes(
    router,
    "/services",
    "service_id",
    get_service,
    [
        ("deploy", "deployService"),
        ("get-status", "getStatusService"),
        ("reload", "reloadService"),
        ("restart", "restartService"),
        ("start", "startService"),
        ("stop", "stopService"),
    ],
)

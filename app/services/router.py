"""HTTP for services: the routes every environment resource has, and its operations
(`deploy`, `get-status`, `reload`, `restart`, `start`, `stop`)."""

from __future__ import annotations

from app.core.deps import SessionDep
from app.resources_common.router import environment_resource_router
from app.services import schemas
from app.services.service import ServiceService


async def get_service(session: SessionDep) -> ServiceService:
    return ServiceService(session)


OPERATIONS = [
    ("deploy", "deployService"),
    ("get-status", "getStatusService"),
    ("reload", "reloadService"),
    ("restart", "restartService"),
    ("start", "startService"),
    ("stop", "stopService"),
]

router = environment_resource_router(
    "Services", get_service, ("services", "service_id", "Service"),
    (schemas.Service, schemas.ServiceRelation, schemas.ServiceEnvironmentCreate,
     schemas.ServiceUpdate),
    OPERATIONS,
    {"getService": "get_service_by_id"},
)

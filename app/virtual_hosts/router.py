"""HTTP for virtual hosts: the routes every environment resource has, and its operations
(`deploy`, `get-status`)."""

from __future__ import annotations

from app.core.deps import SessionDep
from app.resources_common.router import environment_resource_router
from app.virtual_hosts import schemas
from app.virtual_hosts.service import VirtualHostService


async def get_service(session: SessionDep) -> VirtualHostService:
    return VirtualHostService(session)


router = environment_resource_router(
    "Virtual Hosts", get_service, ("virtual-hosts", "virtual_host_id", "VirtualHost"),
    (schemas.VirtualHost, schemas.VirtualHostRelation,
     schemas.VirtualHostEnvironmentCreate, schemas.VirtualHostUpdate),
    [("deploy", "deployVirtualHost"), ("get-status", "getStatusVirtualHost")],
)

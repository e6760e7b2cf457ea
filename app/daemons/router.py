"""HTTP for daemons: the routes every environment resource has, and its operations."""

from __future__ import annotations

from app.core.deps import SessionDep
from app.daemons import schemas
from app.daemons.service import DaemonService
from app.resources_common.router import environment_resource_router


async def get_service(session: SessionDep) -> DaemonService:
    return DaemonService(session)


router = environment_resource_router(
    "Daemons", get_service, ("daemons", "daemon_id", "Daemon"),
    (schemas.Daemon, schemas.DaemonRelation, schemas.DaemonEnvironmentCreate,
     schemas.DaemonUpdate),
    [
        ("deploy", "deployDaemon"),
        ("get-status", "getStatusDaemon"),
        ("restart", "restartDaemon"),
        ("start", "startDaemon"),
        ("stop", "stopDaemon"),
    ],
)

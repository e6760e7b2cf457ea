"""HTTP for SSH keys: the routes every environment resource has, and its operations
(`deploy`)."""

from __future__ import annotations

from app.core.deps import SessionDep
from app.resources_common.router import environment_resource_router
from app.ssh_keys import schemas
from app.ssh_keys.service import SshKeyService


async def get_service(session: SessionDep) -> SshKeyService:
    return SshKeyService(session)


router = environment_resource_router(
    "SSH Keys", get_service, ("ssh-keys", "ssh_key_id", "SshKey"),
    (schemas.SshKey, schemas.SshKeyRelation, schemas.SshKeyEnvironmentCreate,
     schemas.SshKeyUpdate),
    [("deploy", "deploySshKey")],
)

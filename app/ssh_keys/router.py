from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.core.deps import SessionDep
from app.resources_common.router import Route, add_operation_routes, add_routes
from app.ssh_keys import schemas
from app.ssh_keys.service import SshKeyService

router = APIRouter(tags=["SSH Keys"])


def get_service(session: SessionDep) -> SshKeyService:
    return SshKeyService(session)


Service = Annotated[SshKeyService, Depends(get_service)]


add_routes(router, Service, [
    Route("GET", "/environments/{environment_id:int}/ssh-keys", "listEnvironmentSshKeys", "list",
          list[schemas.SshKeyRelation], paged=True),
    Route("POST", "/environments/{environment_id:int}/ssh-keys", "addEnvironmentSshKey", "create",
          schemas.SshKey, 201, schemas.SshKeyEnvironmentCreate),
    Route("GET", "/ssh-keys/{ssh_key_id:int}", "getSshKey", "get", schemas.SshKey),
    Route("PUT", "/ssh-keys/{ssh_key_id:int}", "updateSshKey", "update", None, 204,
          schemas.SshKeyUpdate),
    Route("DELETE", "/ssh-keys/{ssh_key_id:int}", "deleteSshKey", "delete", None, 204),
])


add_operation_routes(router, "/ssh-keys", "ssh_key_id", get_service,
                     [("deploy", "deploySshKey")])

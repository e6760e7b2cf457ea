from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access.auth import CurrentPrincipal
from app.core.deps import SessionDep
from app.core.pagination import PageDep
from app.resources_common.router import add_operation_routes, no_content
from app.ssh_keys import schemas
from app.ssh_keys.models import SshKey
from app.ssh_keys.service import SshKeyService

router = APIRouter(tags=["SSH Keys"])


def get_service(session: SessionDep) -> SshKeyService:
    return SshKeyService(session)


Service = Annotated[SshKeyService, Depends(get_service)]


@router.get(
    "/environments/{environment_id:int}/ssh-keys",
    operation_id="listEnvironmentSshKeys",
    response_model=list[schemas.SshKeyRelation],
)
async def list_environment_ssh_keys(
    environment_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[SshKey]:
    return await service.list(principal, environment_id, page)


@router.post(
    "/environments/{environment_id:int}/ssh-keys",
    operation_id="addEnvironmentSshKey",
    status_code=201,
    response_model=schemas.SshKey,
)
async def add_environment_ssh_key(
    environment_id: int,
    data: schemas.SshKeyEnvironmentCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> SshKey:
    return await service.create(principal, environment_id, data)


@router.get("/ssh-keys/{ssh_key_id:int}", operation_id="getSshKey", response_model=schemas.SshKey)
async def get_ssh_key(ssh_key_id: int, service: Service, principal: CurrentPrincipal) -> SshKey:
    return await service.get(principal, ssh_key_id)


@router.put(
    "/ssh-keys/{ssh_key_id:int}", operation_id="updateSshKey", status_code=204,
    response_class=Response,
)
async def update_ssh_key(
    ssh_key_id: int, data: schemas.SshKeyUpdate, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.update(principal, ssh_key_id, data)
    return no_content()


@router.delete(
    "/ssh-keys/{ssh_key_id:int}", operation_id="deleteSshKey", status_code=204,
    response_class=Response,
)
async def delete_ssh_key(
    ssh_key_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, ssh_key_id)
    return no_content()


add_operation_routes(router, "/ssh-keys", "ssh_key_id", get_service,
                     [("deploy", "deploySshKey")])

"""SSH keys: public keys authorised on the environment's servers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.core.errors import ValidationFailed
from app.resources_common.service import (
    EnvironmentResourceService,
    check_body_id,
    linked_server_ids,
    ownership,
)
from app.resources_common.validators import parse_ssh_public_key
from app.ssh_keys.models import SshKey
from app.ssh_keys.repository import SshKeyRepository
from app.ssh_keys.schemas import SshKeyEnvironmentCreate, SshKeyUpdate


class SshKeyService(EnvironmentResourceService[SshKey]):
    label = "SSH key"
    resource_type = "ssh-key"

    def __init__(self, session: AsyncSession) -> None:
        self.keys = SshKeyRepository(session)
        super().__init__(session, self.keys)

    async def create(
        self, principal: Principal, environment_id: int, data: SshKeyEnvironmentCreate
    ) -> SshKey:
        environment = await self.environment_for_create(principal, environment_id)
        try:
            parsed = parse_ssh_public_key(data.public_key)
        except ValueError as exc:
            raise ValidationFailed.field("public_key", f"The public key {exc}.") from None
        if await self.keys.fingerprint_taken(environment_id, parsed.fingerprint_sha256):
            raise ValidationFailed.field(
                "public_key", "This public key has already been added to the environment."
            )
        server_ids = await linked_server_ids(
            self.session, environment_id, data.linked_resources, principal
        )
        key = SshKey(
            **ownership(environment, principal),
            name=data.name,
            key_type=parsed.key_type,
            public_key=parsed.normalized,
            fingerprint=parsed.fingerprint_md5,
            fingerprint_sha256=parsed.fingerprint_sha256,
        )
        return await self.add_linked(key, server_ids)

    async def update(self, principal: Principal, key_id: int, data: SshKeyUpdate) -> None:
        check_body_id(data.id, key_id)
        key = await self.get(principal, key_id, "update")
        key.name = data.name
        await self.session.flush()

from __future__ import annotations

from sqlalchemy import select

from app.resources_common.repository import Collection, EnvironmentResourceRepository
from app.ssh_keys.models import SshKey


class SshKeyRepository(EnvironmentResourceRepository[SshKey]):
    model = SshKey

    def collections(self) -> list[Collection]:
        return [Collection.of(SshKey.servers)]

    async def fingerprint_taken(self, environment_id: int, fingerprint_sha256: str) -> bool:
        found = await self.session.scalar(
            select(SshKey.id).where(
                SshKey.environment_id == environment_id,
                SshKey.fingerprint_sha256 == fingerprint_sha256,
            )
        )
        return found is not None

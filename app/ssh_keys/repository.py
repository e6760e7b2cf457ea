from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.resources_common.repository import EnvironmentResourceRepository
from app.ssh_keys.models import SshKey


class SshKeyRepository(EnvironmentResourceRepository[SshKey]):
    model = SshKey

    def options(self) -> list[LoaderOption]:
        return [*super().options(), selectinload(SshKey.servers)]

    async def fingerprint_taken(self, environment_id: int, fingerprint_sha256: str) -> bool:
        found = await self.session.scalar(
            select(SshKey.id).where(
                SshKey.environment_id == environment_id,
                SshKey.fingerprint_sha256 == fingerprint_sha256,
            )
        )
        return found is not None

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.interfaces import LoaderOption

from app.credentials.models import Credential
from app.resources_common.repository import EnvironmentResourceRepository
from app.servers.models import Server


class ServerRepository(EnvironmentResourceRepository[Server]):
    model = Server

    def options(self) -> list[LoaderOption]:
        return [
            *super().options(),
            # At most one row ((credential, environment) is the link's key): joined into
            # the server's own SELECT instead of a statement of its own.
            joinedload(Server.credential_record).joinedload(Credential.created_by_user),
        ]

    async def hostname_taken(
        self, environment_id: int, hostname: str, exclude_id: int | None = None
    ) -> bool:
        stmt = select(Server.id).where(
            Server.environment_id == environment_id, Server.hostname == hostname
        )
        if exclude_id is not None:
            stmt = stmt.where(Server.id != exclude_id)
        return (await self.session.scalar(stmt.limit(1))) is not None

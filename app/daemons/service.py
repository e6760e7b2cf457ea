"""Daemons: long-running processes supervised on the environment's servers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.daemons.models import Daemon
from app.daemons.repository import DaemonRepository
from app.daemons.schemas import DaemonEnvironmentCreate, DaemonUpdate
from app.resources_common.names import check_name_free
from app.resources_common.service import (
    EnvironmentResourceService,
    check_body_id,
    linked_server_ids,
    ownership,
)


class DaemonService(EnvironmentResourceService[Daemon]):
    label = "Daemon"
    resource_type = "daemon"

    def __init__(self, session: AsyncSession) -> None:
        self.daemons = DaemonRepository(session)
        super().__init__(session, self.daemons)

    async def create(
        self, principal: Principal, environment_id: int, data: DaemonEnvironmentCreate
    ) -> Daemon:
        environment = await self.environment_for_create(principal, environment_id)
        await check_name_free(self.daemons, environment_id, data.name)
        application_id = await self.application_in(
            environment_id, data.application_id, principal=principal
        )
        server_ids = await linked_server_ids(
            self.session, environment_id, data.linked_resources, principal
        )
        daemon = Daemon(
            **ownership(environment, principal),
            name=data.name,
            command=data.command,
            process_count=data.process_count,
            working_directory=data.working_directory,
            run_as_user=data.run_as_user,
            application_id=application_id,
        )
        return await self.add_linked(daemon, server_ids)

    async def update(self, principal: Principal, daemon_id: int, data: DaemonUpdate) -> None:
        check_body_id(data.id, daemon_id)
        daemon = await self.get(principal, daemon_id, "update")
        await check_name_free(self.daemons, daemon.environment_id, data.name, daemon.id)
        daemon.application_id = await self.application_in(
            daemon.environment_id, data.application_id, principal=principal
        )
        daemon.name = data.name
        daemon.command = data.command
        daemon.process_count = data.process_count
        daemon.working_directory = data.working_directory
        daemon.run_as_user = data.run_as_user
        await self.session.flush()

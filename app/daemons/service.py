"""Daemons: long-running processes supervised on the environment's servers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.core.errors import ValidationFailed
from app.daemons.models import Daemon
from app.daemons.repository import DaemonRepository
from app.daemons.schemas import DaemonEnvironmentCreate, DaemonUpdate
from app.resources_common import links
from app.resources_common.service import (
    EnvironmentResourceService,
    check_body_id,
    linked_server_ids,
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
        if await self.daemons.name_taken(environment_id, data.name):
            raise ValidationFailed.field("name", "The name has already been taken.")
        application_id = await self.application_in(
            environment_id, data.application_id, principal=principal
        )
        server_ids = await linked_server_ids(
            self.session, environment_id, data.linked_resources, principal
        )
        daemon = Daemon(
            environment_id=environment_id,
            project_id=environment.project_id,
            created_by=principal.user_id,
            name=data.name,
            command=data.command,
            process_count=data.process_count,
            working_directory=data.working_directory,
            run_as_user=data.run_as_user,
            application_id=application_id,
        )
        await self.daemons.add(daemon)
        await links.link_servers(self.session, self.resource_type, daemon.id, server_ids)
        return await self.created(daemon)

    async def update(self, principal: Principal, daemon_id: int, data: DaemonUpdate) -> None:
        check_body_id(data.id, daemon_id)
        daemon = await self.get(principal, daemon_id, "update")
        if await self.daemons.name_taken(daemon.environment_id, data.name, daemon.id):
            raise ValidationFailed.field("name", "The name has already been taken.")
        daemon.application_id = await self.application_in(
            daemon.environment_id, data.application_id, principal=principal
        )
        daemon.name = data.name
        daemon.command = data.command
        daemon.process_count = data.process_count
        daemon.working_directory = data.working_directory
        daemon.run_as_user = data.run_as_user
        await self.session.flush()

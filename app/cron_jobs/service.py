"""Cron jobs: commands run on a schedule on the environment's servers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.cron_jobs.models import CronJob
from app.cron_jobs.repository import CronJobRepository
from app.cron_jobs.schemas import CronJobEnvironmentCreate, CronJobUpdate
from app.resources_common import links
from app.resources_common.service import (
    EnvironmentResourceService,
    check_body_id,
    linked_server_ids,
)


class CronJobService(EnvironmentResourceService[CronJob]):
    label = "Cron job"
    resource_type = "cronjob"

    def __init__(self, session: AsyncSession) -> None:
        self.cron_jobs = CronJobRepository(session)
        super().__init__(session, self.cron_jobs)

    async def create(
        self, principal: Principal, environment_id: int, data: CronJobEnvironmentCreate
    ) -> CronJob:
        environment = await self.environment_for_create(principal, environment_id)
        application_id = await self.application_in(
            environment_id, data.application_id, principal=principal
        )
        server_ids = await linked_server_ids(
            self.session, environment_id, data.linked_resources, principal
        )
        cron_job = CronJob(
            environment_id=environment_id,
            project_id=environment.project_id,
            created_by=principal.user_id,
            name=data.name,
            command=data.command,
            pattern=data.pattern,
            run_as_user=data.run_as_user,
            application_id=application_id,
        )
        await self.cron_jobs.add(cron_job)
        await links.link_servers(self.session, self.resource_type, cron_job.id, server_ids)
        return await self.created(cron_job)

    async def update(self, principal: Principal, cron_job_id: int, data: CronJobUpdate) -> None:
        check_body_id(data.id, cron_job_id)
        cron_job = await self.get(principal, cron_job_id, "update")
        if "application_id" in data.model_fields_set:
            cron_job.application_id = await self.application_in(
                cron_job.environment_id, data.application_id, principal=principal
            )
        cron_job.name = data.name
        cron_job.command = data.command
        cron_job.pattern = data.pattern
        cron_job.run_as_user = data.run_as_user
        await self.session.flush()

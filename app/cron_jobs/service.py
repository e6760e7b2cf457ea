"""Cron jobs: commands run on a schedule on the environment's servers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.cron_jobs.models import CronJob
from app.cron_jobs.repository import CronJobRepository
from app.cron_jobs.schemas import CronJobEnvironmentCreate, CronJobUpdate
from app.resources_common.service import (
    EnvironmentResourceService,
    check_body_id,
    linked_server_ids,
    ownership,
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
            **ownership(environment, principal),
            name=data.name,
            command=data.command,
            pattern=data.pattern,
            run_as_user=data.run_as_user,
            application_id=application_id,
        )
        return await self.add_linked(cron_job, server_ids)

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

from __future__ import annotations

from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.cron_jobs.models import CronJob
from app.resources_common.repository import Collection, EnvironmentResourceRepository


class CronJobRepository(EnvironmentResourceRepository[CronJob]):
    model = CronJob

    def options(self) -> list[LoaderOption]:
        return [
            *super().options(),
            selectinload(CronJob.application),
        ]

    def collections(self) -> list[Collection]:
        return [Collection.of(CronJob.servers)]

from __future__ import annotations

from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.cron_jobs.models import CronJob
from app.resources_common.repository import EnvironmentResourceRepository


class CronJobRepository(EnvironmentResourceRepository[CronJob]):
    model = CronJob

    def options(self) -> list[LoaderOption]:
        return [
            *super().options(),
            selectinload(CronJob.application),
            selectinload(CronJob.servers),
        ]

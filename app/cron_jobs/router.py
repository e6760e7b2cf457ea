"""HTTP for cron jobs: the routes every environment resource has, and its operation
(`deploy`)."""

from __future__ import annotations

from app.core.deps import SessionDep
from app.cron_jobs import schemas
from app.cron_jobs.service import CronJobService
from app.resources_common.router import environment_resource_router


async def get_service(session: SessionDep) -> CronJobService:
    return CronJobService(session)


router = environment_resource_router(
    "Cron Jobs", get_service, ("cron-jobs", "cron_job_id", "CronJob"),
    (schemas.CronJob, schemas.CronJobRelation, schemas.CronJobEnvironmentCreate,
     schemas.CronJobUpdate),
    [("deploy", "deployCronJob")],
)

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access.auth import CurrentPrincipal
from app.access.routes import no_content
from app.core.deps import SessionDep
from app.core.pagination import PageDep
from app.cron_jobs import schemas
from app.cron_jobs.models import CronJob
from app.cron_jobs.service import CronJobService
from app.resources_common.router import add_operation_routes

router = APIRouter(tags=["Cron Jobs"])


async def get_service(session: SessionDep) -> CronJobService:
    return CronJobService(session)


Service = Annotated[CronJobService, Depends(get_service)]


@router.get(
    "/environments/{environment_id:int}/cron-jobs",
    operation_id="listEnvironmentCronJobs",
    response_model=list[schemas.CronJobRelation],
)
async def list_environment_cron_jobs(
    environment_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[CronJob]:
    return await service.list(principal, environment_id, page)


@router.post(
    "/environments/{environment_id:int}/cron-jobs",
    operation_id="addEnvironmentCronJob",
    status_code=201,
    response_model=schemas.CronJob,
)
async def add_environment_cron_job(
    environment_id: int,
    data: schemas.CronJobEnvironmentCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> CronJob:
    return await service.create(principal, environment_id, data)


@router.get(
    "/cron-jobs/{cron_job_id:int}", operation_id="getCronJob", response_model=schemas.CronJob
)
async def get_cron_job(cron_job_id: int, service: Service, principal: CurrentPrincipal) -> CronJob:
    return await service.get(principal, cron_job_id)


@router.put(
    "/cron-jobs/{cron_job_id:int}", operation_id="updateCronJob", status_code=204,
    response_class=Response,
)
async def update_cron_job(
    cron_job_id: int, data: schemas.CronJobUpdate, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.update(principal, cron_job_id, data)
    return no_content()


@router.delete(
    "/cron-jobs/{cron_job_id:int}", operation_id="deleteCronJob", status_code=204,
    response_class=Response,
)
async def delete_cron_job(
    cron_job_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, cron_job_id)
    return no_content()


add_operation_routes(router, "/cron-jobs", "cron_job_id", get_service,
                     [("deploy", "deployCronJob")])

"""HTTP for actions, logs and pipelines. Integer-id routes are registered first, so
`/pipelines/{pipeline_id}/...` is never taken for `/pipelines/{resource_type}/{resource_id}`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import StreamingResponse

from app.actions import schemas
from app.actions.bus import action_topic, draining, get_bus
from app.actions.logstream import log_events, log_json
from app.actions.models import FINISHED
from app.actions.models import Action as ActionModel
from app.actions.service import ActionService, PipelineService
from app.core.auth import CurrentPrincipal
from app.core.database import Database
from app.core.deps import ClientIP, SessionDep, SettingsDep, get_database
from app.core.pagination import PageDep

router = APIRouter()

ACTIONS = "Actions"
LOGS = "Actions - Logs"
ENV_ACTIONS = "Environments - Actions"
PROJECT_ACTIONS = "Projects - Actions"
PIPELINES = "Pipelines"
PIPELINE_ACTIONS = "Pipelines - Actions"
PIPELINE_STEPS = "Pipelines - Steps"
EXTENSIONS = "Extensions - Actions"

Id = Annotated[int, Path(ge=1)]
DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_action_service(session: SessionDep) -> ActionService:
    return ActionService(session)


async def get_pipeline_service(session: SessionDep) -> PipelineService:
    return PipelineService(session)


Actions = Annotated[ActionService, Depends(get_action_service)]
Pipelines = Annotated[PipelineService, Depends(get_pipeline_service)]

FilterStatus = Annotated[str | None, Query(alias="filter[status]")]
FilterOperation = Annotated[str | None, Query(alias="filter[operation]")]
FilterResourceId = Annotated[int | None, Query(alias="filter[resource_id]")]
FilterResourceType = Annotated[str | None, Query(alias="filter[resource_type]")]


def _relations(actions: Sequence[ActionModel], base_url: str) -> list[schemas.ActionRelation]:
    return [schemas.ActionRelation.of(a, base_url) for a in actions]


# ---- actions ------------------------------------------------------------------------


@router.get(
    "/actions",
    operation_id="listActions",
    response_model=list[schemas.ActionRelation],
    tags=[ACTIONS],
)
async def list_actions(
    service: Actions,
    principal: CurrentPrincipal,
    page: PageDep,
    settings: SettingsDep,
    organization_id: Annotated[int | None, Query(alias="filter[organization_id]")] = None,
    project_id: Annotated[int | None, Query(alias="filter[project_id]")] = None,
    environment_id: Annotated[int | None, Query(alias="filter[environment_id]")] = None,
    resource_type: FilterResourceType = None,
    resource_id: FilterResourceId = None,
    status: FilterStatus = None,
    operation: FilterOperation = None,
) -> list[schemas.ActionRelation]:
    actions = await service.list(
        principal, page, organization_id=organization_id, project_id=project_id,
        environment_id=environment_id, resource_type=resource_type, resource_id=resource_id,
        status=status, type=operation,
    )
    return _relations(actions, settings.frontend_url)


@router.get(
    "/actions/targets/{target_resource_type}/{target_resource_id}",
    operation_id="listActionsByTargetResourceType",
    response_model=list[schemas.ActionRelation],
    tags=[ACTIONS],
)
async def list_actions_by_target(
    target_resource_type: str,
    target_resource_id: Id,
    service: Actions,
    principal: CurrentPrincipal,
    page: PageDep,
    settings: SettingsDep,
) -> list[schemas.ActionRelation]:
    actions = await service.list_by_target(
        principal, page, target_resource_type, target_resource_id
    )
    return _relations(actions, settings.frontend_url)


@router.get(
    "/actions/{action_id:int}",
    operation_id="getAction",
    response_model=schemas.Action,
    tags=[ACTIONS],
    description=(
        "Extension: `?wait=<seconds>` (up to 300) answers as soon as the action finishes, "
        "or after that many seconds with its current state: no polling needed."
    ),
)
async def get_action(
    action_id: Id,
    service: Actions,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    wait: Annotated[float | None, Query(ge=0, le=300)] = None,
) -> schemas.Action:
    if not wait:
        return schemas.Action.of(await service.get(principal, action_id), settings.frontend_url)
    # Waiting reads only the status (and whether the caller may read the action at all);
    # the whole action, every target and step, is loaded once, at the end.
    status: str | None = await service.readable_status(principal, action_id)
    if status not in FINISHED:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        async with get_bus().subscribe(action_topic(action_id)) as changes:
            # Re-read once subscribed: a change in between still wakes the wait below.
            status = await service.status(action_id)
            while (status not in FINISHED and not draining()
                   and (left := deadline - loop.time()) > 0):
                # End the read transaction while waiting so SQLite writers never wait on it.
                await service.session.commit()
                await changes.wait(min(left, 1.0))
                status = await service.status(action_id)
    return schemas.Action.of(await service.reload(action_id), settings.frontend_url)


@router.post(
    "/actions/{action_id:int}/retry",
    operation_id="retryAction",
    status_code=201,
    response_model=schemas.Action,
    tags=[ACTIONS],
)
async def retry_action(
    action_id: Id, service: Actions, principal: CurrentPrincipal, settings: SettingsDep
) -> schemas.Action:
    action = await service.retry(principal, action_id)
    return schemas.Action.of(action, settings.frontend_url)


@router.post(
    "/actions/{action_id:int}/cancel",
    operation_id="cancelAction",
    response_model=schemas.Action,
    tags=[EXTENSIONS],
    summary="Cancel an action (extension)",
    description=(
        "Stops a pending or running action: the remote process group of each running step "
        "is killed over SSH, running steps fail and pending ones are skipped, and the "
        "servers' concurrency slots are freed. Answers with the action as it is now; "
        "use `?wait=` on GET /actions/{action_id} to see it finish."
    ),
)
async def cancel_action(
    action_id: Id, service: Actions, principal: CurrentPrincipal, settings: SettingsDep
) -> schemas.Action:
    action = await service.cancel(principal, action_id)
    return schemas.Action.of(action, settings.frontend_url)


@router.get(
    "/actions/{action_id:int}/targets/{action_target_id:int}/steps/{action_step_order:int}/logs",
    operation_id="getActionLog",
    response_model=None,
    responses={200: {"model": dict[str, Any]}},
    tags=[LOGS],
)
async def get_action_log(
    action_id: Id,
    action_target_id: Id,
    action_step_order: Id,
    service: Actions,
    principal: CurrentPrincipal,
    database: DatabaseDep,
) -> StreamingResponse:
    target, step = await service.step_for_log(
        principal, action_id, action_target_id, action_step_order
    )
    return StreamingResponse(
        log_json(database, step.id, target.resource_data), media_type="application/json"
    )


@router.get(
    "/actions/{action_id:int}/targets/{action_target_id:int}/steps/{action_step_order:int}"
    "/logs/stream",
    operation_id="streamActionLog",
    tags=[EXTENSIONS],
    summary="Live step log over Server-Sent Events (extension)",
    description=(
        "`text/event-stream`: one `log` event per stored output chunk (`id` is its sequence "
        "number, `data` is `{\"output\": ...}`), then an `end` event with the step status. "
        "Reconnect with `Last-Event-ID` to resume exactly after the last chunk received."
    ),
    response_class=StreamingResponse,
)
async def stream_action_log(
    action_id: Id,
    action_target_id: Id,
    action_step_order: Id,
    service: Actions,
    principal: CurrentPrincipal,
    database: DatabaseDep,
    last_event_id: Annotated[int, Header(alias="Last-Event-ID", ge=0)] = 0,
) -> StreamingResponse:
    _, step = await service.step_for_log(
        principal, action_id, action_target_id, action_step_order
    )
    return StreamingResponse(
        log_events(database, get_bus(), step.id, last_event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/actions/{resource_type}/{resource_id}",
    operation_id="listActionsByResourceType",
    response_model=list[schemas.ActionRelation],
    tags=[ACTIONS],
)
async def list_actions_by_resource(
    resource_type: str,
    resource_id: Id,
    service: Actions,
    principal: CurrentPrincipal,
    page: PageDep,
    settings: SettingsDep,
) -> list[schemas.ActionRelation]:
    actions = await service.list_by_resource(principal, page, resource_type, resource_id)
    return _relations(actions, settings.frontend_url)


@router.get(
    "/environments/{environment_id:int}/actions",
    operation_id="listEnvironmentActions",
    response_model=list[schemas.ActionRelation],
    tags=[ENV_ACTIONS],
)
async def list_environment_actions(
    environment_id: Id,
    service: Actions,
    principal: CurrentPrincipal,
    page: PageDep,
    settings: SettingsDep,
    resource_type: FilterResourceType = None,
    resource_id: FilterResourceId = None,
    status: FilterStatus = None,
    operation: FilterOperation = None,
) -> list[schemas.ActionRelation]:
    actions = await service.list_for_environment(
        principal, page, environment_id, resource_type=resource_type,
        resource_id=resource_id, status=status, type=operation,
    )
    return _relations(actions, settings.frontend_url)


@router.get(
    "/environments/{environment_id:int}/actions/{resource_type}",
    operation_id="listEnvironmentActionsByResourceType",
    response_model=list[schemas.ActionRelation],
    tags=[ENV_ACTIONS],
)
async def list_environment_actions_by_resource_type(
    environment_id: Id,
    resource_type: str,
    service: Actions,
    principal: CurrentPrincipal,
    page: PageDep,
    settings: SettingsDep,
    resource_id: FilterResourceId = None,
    status: FilterStatus = None,
    operation: FilterOperation = None,
) -> list[schemas.ActionRelation]:
    actions = await service.list_for_environment(
        principal, page, environment_id, resource_type=resource_type,
        resource_id=resource_id, status=status, type=operation,
    )
    return _relations(actions, settings.frontend_url)


@router.get(
    "/projects/{project_id:int}/actions/{resource_type}",
    operation_id="listProjectActionsByResourceType",
    response_model=list[schemas.ActionRelation],
    tags=[PROJECT_ACTIONS],
)
async def list_project_actions_by_resource_type(
    project_id: Id,
    resource_type: str,
    service: Actions,
    principal: CurrentPrincipal,
    page: PageDep,
    settings: SettingsDep,
) -> list[schemas.ActionRelation]:
    actions = await service.list_for_project(
        principal, page, project_id, resource_type=resource_type
    )
    return _relations(actions, settings.frontend_url)


# ---- pipelines (integer routes first) ------------------------------------------------


@router.get(
    "/pipelines/{pipeline_id:int}",
    operation_id="getPipeline",
    response_model=schemas.Pipeline,
    tags=[PIPELINES],
)
async def get_pipeline(
    pipeline_id: Id, service: Pipelines, principal: CurrentPrincipal
) -> schemas.Pipeline:
    return schemas.Pipeline.of(await service.get(principal, pipeline_id, "pipeline:read"))


@router.put(
    "/pipelines/{pipeline_id:int}",
    operation_id="updatePipeline",
    status_code=204,
    response_class=Response,
    tags=[PIPELINES],
)
async def update_pipeline(
    pipeline_id: Id, data: schemas.PipelineUpdate, service: Pipelines,
    principal: CurrentPrincipal,
) -> Response:
    await service.update(principal, pipeline_id, data)
    return Response(status_code=204)


@router.delete(
    "/pipelines/{pipeline_id:int}",
    operation_id="deletePipeline",
    status_code=204,
    response_class=Response,
    tags=[PIPELINES],
)
async def delete_pipeline(
    pipeline_id: Id, service: Pipelines, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, pipeline_id)
    return Response(status_code=204)


@router.get(
    "/pipelines/{pipeline_id:int}/actions",
    operation_id="listPipelineActions",
    response_model=list[schemas.ActionRelation],
    tags=[PIPELINE_ACTIONS],
)
async def list_pipeline_actions(
    pipeline_id: Id, service: Pipelines, principal: CurrentPrincipal, page: PageDep,
    settings: SettingsDep,
) -> list[schemas.ActionRelation]:
    actions = await service.list_actions(principal, page, pipeline_id)
    return _relations(actions, settings.frontend_url)


@router.post(
    "/pipelines/{pipeline_id:int}/actions",
    operation_id="addPipelineAction",
    status_code=201,
    response_model=schemas.Action,
    tags=[PIPELINE_ACTIONS],
)
async def add_pipeline_action(
    pipeline_id: Id,
    data: schemas.ActionPipelineCreate,
    service: Pipelines,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    ip: ClientIP,
    response: Response,
) -> schemas.Action:
    action = await service.run(principal, pipeline_id, data, ip)
    response.headers["X-Devopness-Action-Id"] = str(action.id)
    return schemas.Action.of(action, settings.frontend_url)


@router.post(
    "/pipelines/{pipeline_id:int}/steps",
    operation_id="addPipelineStep",
    status_code=201,
    response_model=schemas.Step,
    tags=[PIPELINE_STEPS],
)
async def add_pipeline_step(
    pipeline_id: Id, data: schemas.StepPipelineCreate, service: Pipelines,
    principal: CurrentPrincipal,
) -> schemas.Step:
    return schemas.Step.of(await service.add_step(principal, pipeline_id, data))


@router.put(
    "/pipelines/{pipeline_id:int}/steps/{step_id:int}",
    operation_id="updatePipelineStep",
    status_code=204,
    response_class=Response,
    tags=[PIPELINE_STEPS],
)
async def update_pipeline_step(
    pipeline_id: Id, step_id: Id, data: schemas.StepPipelineUpdate, service: Pipelines,
    principal: CurrentPrincipal,
) -> Response:
    await service.update_step(principal, pipeline_id, step_id, data)
    return Response(status_code=204)


@router.post(
    "/pipelines/{pipeline_id:int}/steps/{step_id:int}/link",
    operation_id="linkStepToPipeline",
    status_code=204,
    response_class=Response,
    tags=[PIPELINE_STEPS],
)
async def link_step(
    pipeline_id: Id, step_id: Id, service: Pipelines, principal: CurrentPrincipal
) -> Response:
    await service.link_step(principal, pipeline_id, step_id)
    return Response(status_code=204)


@router.delete(
    "/pipelines/{pipeline_id:int}/steps/{step_id:int}/unlink",
    operation_id="unlinkStepFromPipeline",
    status_code=204,
    response_class=Response,
    tags=[PIPELINE_STEPS],
)
async def unlink_step(
    pipeline_id: Id, step_id: Id, service: Pipelines, principal: CurrentPrincipal
) -> Response:
    await service.unlink_step(principal, pipeline_id, step_id)
    return Response(status_code=204)


@router.get(
    "/pipelines/{resource_type}/{resource_id}",
    operation_id="listPipelinesByResourceType",
    response_model=list[schemas.PipelineRelation],
    tags=[PIPELINES],
)
async def list_pipelines(
    resource_type: str, resource_id: Id, service: Pipelines, principal: CurrentPrincipal,
    page: PageDep,
) -> list[schemas.PipelineRelation]:
    pipelines = await service.list_for_resource(principal, page, resource_type, resource_id)
    return [schemas.PipelineRelation.of(p) for p in pipelines]


@router.post(
    "/pipelines/{resource_type}/{resource_id}",
    operation_id="addPipeline",
    status_code=201,
    response_model=schemas.Pipeline,
    tags=[PIPELINES],
)
async def add_pipeline(
    resource_type: str, resource_id: Id, data: schemas.PipelineCreate, service: Pipelines,
    principal: CurrentPrincipal,
) -> schemas.Pipeline:
    pipeline = await service.create(principal, resource_type, resource_id, data)
    return schemas.Pipeline.of(pipeline)

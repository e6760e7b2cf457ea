"""HTTP for actions, logs and pipelines. Integer-id routes are registered first, so
`/pipelines/{pipeline_id}/...` is never taken for `/pipelines/{resource_type}/{resource_id}`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.access.auth import CurrentPrincipal
from app.access.routes import Route, add_routes, param
from app.actions import pipeline_schemas, schemas
from app.actions.answers import FinishedAnswers, action_json
from app.actions.bus import action_topic, draining, get_bus
from app.actions.logstream import log_events, log_json
from app.actions.models import FINISHED
from app.actions.models import Action as ActionModel
from app.actions.pipeline_service import PipelineService
from app.actions.repository import ActionShown
from app.actions.service import ActionService
from app.core.database import Database
from app.core.deps import ClientIP, SessionDep, SettingsDep, get_database
from app.core.pagination import PageDep
from app.core.settings import Settings

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


def _relations_of(fetch: Callable[..., Awaitable[Sequence[ActionModel]]]) -> Any:
    """A list route's call: the actions `fetch` finds, as relations."""
    async def call(settings: Settings, **values: Any) -> list[schemas.ActionRelation]:
        return _relations(await fetch(**values), settings.frontend_url)
    return call


def _in_environment(
    service: ActionService, principal: Any, page: Any, environment_id: int,
    operation: str | None = None, **filters: Any,
) -> Awaitable[Sequence[ActionModel]]:
    return service.list_for_environment(principal, page, environment_id, type=operation,
                                        **filters)


IDS = {name: Id for name in ("target_resource_id", "resource_id", "environment_id",
                             "project_id", "pipeline_id")}
SETTINGS = param("settings", SettingsDep)
RESOURCE_TYPE = param("resource_type", FilterResourceType, None)
FILTERS = (param("resource_id", FilterResourceId, None), param("status", FilterStatus, None),
           param("operation", FilterOperation, None))
# Every list of actions, in the order they are matched: the first two before the
# integer-id action routes, the environment and project lists after them, the pipeline's
# after the pipeline's own routes.
ACTION_LISTS = [
    Route("GET", "/actions", "listActions",
          _relations_of(lambda service, principal, page, operation, **filters:
                        service.list(principal, page, type=operation, **filters)),
          list[schemas.ActionRelation], paged=True, tags=(ACTIONS,), extra=(
              SETTINGS,
              param("organization_id",
                    Annotated[int | None, Query(alias="filter[organization_id]")], None),
              param("project_id", Annotated[int | None, Query(alias="filter[project_id]")],
                    None),
              param("environment_id",
                    Annotated[int | None, Query(alias="filter[environment_id]")], None),
              RESOURCE_TYPE, *FILTERS)),
    Route("GET", "/actions/targets/{target_resource_type}/{target_resource_id}",
          "listActionsByTargetResourceType",
          _relations_of(lambda service, principal, page, target_resource_type,
                        target_resource_id: service.list_by_target(
                            principal, page, target_resource_type, target_resource_id)),
          list[schemas.ActionRelation], paged=True, extra=(SETTINGS,), tags=(ACTIONS,),
          name="list_actions_by_target"),
    Route("GET", "/actions/{resource_type}/{resource_id}", "listActionsByResourceType",
          _relations_of(lambda service, principal, page, resource_type, resource_id:
                        service.list_by_resource(principal, page, resource_type, resource_id)),
          list[schemas.ActionRelation], paged=True, extra=(SETTINGS,), tags=(ACTIONS,),
          name="list_actions_by_resource"),
    Route("GET", "/environments/{environment_id:int}/actions", "listEnvironmentActions",
          _relations_of(_in_environment), list[schemas.ActionRelation], paged=True,
          extra=(SETTINGS, RESOURCE_TYPE, *FILTERS), tags=(ENV_ACTIONS,)),
    Route("GET", "/environments/{environment_id:int}/actions/{resource_type}",
          "listEnvironmentActionsByResourceType", _relations_of(_in_environment),
          list[schemas.ActionRelation], paged=True, extra=(SETTINGS, *FILTERS),
          tags=(ENV_ACTIONS,)),
    Route("GET", "/projects/{project_id:int}/actions/{resource_type}",
          "listProjectActionsByResourceType",
          _relations_of(lambda service, principal, page, project_id, resource_type:
                        service.list_for_project(principal, page, project_id,
                                                 resource_type=resource_type)),
          list[schemas.ActionRelation], paged=True, extra=(SETTINGS,), tags=(PROJECT_ACTIONS,)),
    Route("GET", "/pipelines/{pipeline_id:int}/actions", "listPipelineActions",
          _relations_of(lambda service, principal, page, pipeline_id:
                        service.list_for_pipeline(principal, page, pipeline_id)),
          list[schemas.ActionRelation], paged=True, extra=(SETTINGS,), tags=(PIPELINE_ACTIONS,)),
]


# ---- actions ------------------------------------------------------------------------


add_routes(router, Actions, ACTION_LISTS[:2], IDS)


async def get_finished_answers(request: Request) -> FinishedAnswers:
    finished: FinishedAnswers = request.app.state.finished_answers
    return finished


FinishedAnswersDep = Annotated[FinishedAnswers, Depends(get_finished_answers)]


async def get_action(
    action_id: Id,
    service: Actions,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    finished: FinishedAnswersDep,
    wait: Annotated[float | None, Query(ge=0, le=300)] = None,
) -> Response:
    if not wait:
        shown = await service.shown(principal, action_id, finished=finished)
        return _action_answer(shown, settings, finished)
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
    shown = await service.shown(principal, readable_id=action_id, finished=finished)
    return _action_answer(shown, settings, finished)


def _action_answer(shown: ActionShown, settings: Settings, finished: FinishedAnswers
                   ) -> Response:
    return Response(action_json(shown, settings.frontend_url, finished),
                    media_type="application/json")


async def retry_action(
    action_id: Id, service: Actions, principal: CurrentPrincipal, settings: SettingsDep
) -> schemas.Action:
    action = await service.retry(principal, action_id)
    return schemas.Action.of(action, settings.frontend_url)


async def cancel_action(
    action_id: Id, service: Actions, principal: CurrentPrincipal, settings: SettingsDep
) -> schemas.Action:
    action = await service.cancel(principal, action_id)
    return schemas.Action.of(action, settings.frontend_url)


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


add_routes(router, Actions, [
    Route("GET", "/actions/{action_id:int}", "getAction", get_action, schemas.Action,
          extra=(param("settings", SettingsDep), param("finished", FinishedAnswersDep),
                 param("wait", Annotated[float | None, Query(ge=0, le=300)], None)),
          tags=(ACTIONS,),
          options={"description": (
              "Extension: `?wait=<seconds>` (up to 300) answers as soon as the action finishes, "
              "or after that many seconds with its current state: no polling needed."
          )}),
    Route("POST", "/actions/{action_id:int}/retry", "retryAction", retry_action, schemas.Action,
          201, extra=(param("settings", SettingsDep),), tags=(ACTIONS,)),
    Route("POST", "/actions/{action_id:int}/cancel", "cancelAction", cancel_action, schemas.Action,
          extra=(param("settings", SettingsDep),), tags=(EXTENSIONS,),
          options={"summary": "Cancel an action (extension)", "description": (
              "Stops a pending or running action: the remote process group of each running step "
              "is killed over SSH, running steps fail and pending ones are skipped, and the "
              "servers' concurrency slots are freed. Answers with the action as it is now; "
              "use `?wait=` on GET /actions/{action_id} to see it finish."
          )}),
    Route("GET",
          "/actions/{action_id:int}/targets/{action_target_id:int}/steps/{action_step_order:int}/logs",
          "getActionLog", get_action_log, None, extra=(param("database", DatabaseDep),),
          tags=(LOGS,), options={"responses": {200: {"model": dict[str, Any]}}}),
], {"action_id": Id, "action_target_id": Id, "action_step_order": Id})


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


add_routes(router, Actions, ACTION_LISTS[2:-1], IDS)


# ---- pipelines (integer routes first) ------------------------------------------------
async def get_pipeline(
    pipeline_id: Id, service: Pipelines, principal: CurrentPrincipal
) -> pipeline_schemas.Pipeline:
    pipeline = await service.get(principal, pipeline_id, "pipeline:read")
    return pipeline_schemas.Pipeline.of(pipeline)


add_routes(router, Pipelines, [
    Route("GET", "/pipelines/{pipeline_id:int}", "getPipeline", get_pipeline,
          pipeline_schemas.Pipeline, tags=(PIPELINES,)),
    Route("PUT", "/pipelines/{pipeline_id:int}", "updatePipeline", "update", None, 204,
          pipeline_schemas.PipelineUpdate, tags=(PIPELINES,)),
    Route("DELETE", "/pipelines/{pipeline_id:int}", "deletePipeline", "delete", None, 204,
          tags=(PIPELINES,)),
], {"pipeline_id": Id})


add_routes(router, Actions, ACTION_LISTS[-1:], IDS)


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


async def add_pipeline_step(
    pipeline_id: Id, data: pipeline_schemas.StepPipelineCreate, service: Pipelines,
    principal: CurrentPrincipal,
) -> pipeline_schemas.Step:
    return pipeline_schemas.Step.of(await service.add_step(principal, pipeline_id, data))


async def list_pipelines(
    resource_type: str, resource_id: Id, service: Pipelines, principal: CurrentPrincipal,
    page: PageDep,
) -> list[pipeline_schemas.PipelineRelation]:
    pipelines = await service.list_for_resource(principal, page, resource_type, resource_id)
    return [pipeline_schemas.PipelineRelation.of(p) for p in pipelines]


async def add_pipeline(
    resource_type: str, resource_id: Id, data: pipeline_schemas.PipelineCreate,
    service: Pipelines, principal: CurrentPrincipal,
) -> pipeline_schemas.Pipeline:
    pipeline = await service.create(principal, resource_type, resource_id, data)
    return pipeline_schemas.Pipeline.of(pipeline)


add_routes(router, Pipelines, [
    Route("POST", "/pipelines/{pipeline_id:int}/actions", "addPipelineAction", add_pipeline_action,
          schemas.Action, 201, schemas.ActionPipelineCreate,
          extra=(param("settings", SettingsDep),
                 param("ip", ClientIP),
                 param("response", Response)),
          tags=(PIPELINE_ACTIONS,)),
    Route("POST", "/pipelines/{pipeline_id:int}/steps", "addPipelineStep", add_pipeline_step,
          pipeline_schemas.Step, 201, pipeline_schemas.StepPipelineCreate,
          tags=(PIPELINE_STEPS,)),
    Route("PUT", "/pipelines/{pipeline_id:int}/steps/{step_id:int}", "updatePipelineStep",
          "update_step", None, 204, pipeline_schemas.StepPipelineUpdate,
          tags=(PIPELINE_STEPS,)),
    Route("POST", "/pipelines/{pipeline_id:int}/steps/{step_id:int}/link", "linkStepToPipeline",
          "link_step", None, 204, tags=(PIPELINE_STEPS,), name="link_step"),
    Route("DELETE", "/pipelines/{pipeline_id:int}/steps/{step_id:int}/unlink",
          "unlinkStepFromPipeline", "unlink_step", None, 204, tags=(PIPELINE_STEPS,),
          name="unlink_step"),
    Route("GET", "/pipelines/{resource_type}/{resource_id}", "listPipelinesByResourceType",
          list_pipelines, list[pipeline_schemas.PipelineRelation], paged=True,
          tags=(PIPELINES,), name="list_pipelines"),
    Route("POST", "/pipelines/{resource_type}/{resource_id}", "addPipeline", add_pipeline,
          pipeline_schemas.Pipeline, 201, pipeline_schemas.PipelineCreate, tags=(PIPELINES,)),
], {"pipeline_id": Id, "step_id": Id, "resource_id": Id})

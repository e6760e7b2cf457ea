"""Request bodies and the reference's response shapes for actions, logs and pipelines."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
)

from app.actions import catalog
from app.actions.models import Action as ActionModel
from app.actions.models import ActionStep as ActionStepModel
from app.actions.models import ActionTarget as ActionTargetModel
from app.actions.models import Pipeline as PipelineModel
from app.actions.models import PipelineStep as PipelineStepModel
from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.environments.schemas import EnvironmentRelation
from app.organizations.schemas import OrganizationRelation
from app.projects.schemas import ProjectRelation
from app.resources_common.fields import ONE_LINE
from app.users.schemas import UserRelation

ActionTypeName = Literal[
    "check_provisioned", "configure", "delete", "deploy", "get_status", "provision",
    "reload", "remove", "restart", "rotate_key", "start", "stop",
]
RunnerName = Literal["composer", "custom", "npm", "pip", "yarn"]


# ---- actions -------------------------------------------------------------------------


class ActionStep(ResponseModel):
    id: int
    action_id: int
    action_target_id: int
    name: str | None
    description: str | None
    order: int
    status: str
    status_human_readable: str
    status_reason_code: str
    status_reason_human_readable: str
    started_at: Timestamp | None
    completed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, step: ActionStepModel) -> ActionStep:
        return cls(
            id=step.id,
            action_id=step.action_id,
            action_target_id=step.action_target_id,
            name=step.name,
            description=step.description,
            order=step.order,
            status=step.status,
            status_human_readable=catalog.status_label(step.status),
            status_reason_code=step.status_reason_code,
            status_reason_human_readable=catalog.reason_label(
                step.status_reason_code, step.status_message
            ),
            started_at=step.started_at,
            completed_at=step.completed_at,
            created_at=step.created_at,
            updated_at=step.updated_at,
        )


class ActionTarget(ResponseModel):
    id: int
    resource_type: str
    resource_type_human_readable: str
    resource_id: int
    status: str
    status_human_readable: str
    status_reason_code: str
    status_reason_human_readable: str
    total_steps: int | None
    current_step: ActionStep | None
    steps: list[ActionStep]
    resource_data: dict[str, Any] | None
    started_at: Timestamp | None
    completed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, target: ActionTargetModel) -> ActionTarget:
        steps = [ActionStep.of(s) for s in target.steps]
        current = next((s for s in steps if s.order == target.current_step_order), None)
        return cls(
            id=target.id,
            resource_type=target.resource_type,
            resource_type_human_readable=catalog.resource_label(target.resource_type),
            resource_id=target.resource_id,
            status=target.status,
            status_human_readable=catalog.status_label(target.status),
            status_reason_code=target.status_reason_code,
            status_reason_human_readable=catalog.reason_label(
                target.status_reason_code, target.status_message
            ),
            total_steps=target.total_steps,
            current_step=current,
            steps=steps,
            resource_data=target.resource_data,
            started_at=target.started_at,
            completed_at=target.completed_at,
            created_at=target.created_at,
            updated_at=target.updated_at,
        )


class ActionSummaryTarget(ResponseModel):
    count: int
    pending: int
    in_progress: int
    completed: int
    failed: int


class ActionSummary(ResponseModel):
    targets: ActionSummaryTarget


class ActionTriggeredFrom(ResponseModel):
    origin: str | None = None
    trigger_type: Literal["hook", "manual"] = "manual"
    name: str = ""
    email: str | None = None
    ip_address: str = ""
    user_id: int | None = None
    hook_id: str | None = None
    hook_request_id: str | None = None


class ActionResource(ResponseModel):
    id: int
    type: str
    type_human_readable: str
    data: dict[str, Any] | None = None


class RelatedAction(ResponseModel):
    id: int
    status: str
    status_human_readable: str
    type: str
    type_human_readable: str
    resource_type: str
    resource_type_human_readable: str
    url_web_permalink: str

    @classmethod
    def of(cls, action: ActionModel, base_url: str) -> RelatedAction:
        return cls(
            id=action.id,
            status=action.status,
            status_human_readable=catalog.status_label(action.status),
            type=action.type,
            type_human_readable=catalog.humanize(action.type),
            resource_type=action.resource_type,
            resource_type_human_readable=catalog.resource_label(action.resource_type),
            url_web_permalink=f"{base_url}/actions/{action.id}",
        )


def summarize(targets: list[ActionTargetModel]) -> ActionSummary:
    # Waiting and queued targets have not started: they count as pending.
    counts = {"pending": 0, "in_progress": 0, "completed": 0, "failed": 0}
    for target in targets:
        if target.status == "in-progress":
            counts["in_progress"] += 1
        elif target.status in ("completed", "skipped"):
            counts["completed"] += 1
        elif target.status == "failed":
            counts["failed"] += 1
        else:
            counts["pending"] += 1
    return ActionSummary(targets=ActionSummaryTarget(count=len(targets), **counts))


class ActionRelation(ResponseModel):
    id: int
    status: str
    status_human_readable: str
    status_reason_code: str
    status_reason_human_readable: str
    type: str
    type_human_readable: str
    url_web_permalink: str
    trigger_comment: str | None
    action_data: dict[str, Any] | None
    triggered_from: ActionTriggeredFrom
    resource: ActionResource
    organization: OrganizationRelation | None
    project: ProjectRelation | None
    environment: EnvironmentRelation | None
    summary: ActionSummary
    targets: list[ActionTarget]
    started_at: Timestamp | None
    completed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def fields_of(cls, action: ActionModel, base_url: str) -> dict[str, Any]:
        project = action.project
        return {
            "id": action.id,
            "status": action.status,
            "status_human_readable": catalog.status_label(action.status),
            "status_reason_code": action.status_reason_code,
            "status_reason_human_readable": catalog.reason_label(
                action.status_reason_code, action.status_message
            ),
            "type": action.type,
            "type_human_readable": catalog.humanize(action.type),
            "url_web_permalink": f"{base_url}/actions/{action.id}",
            "trigger_comment": action.trigger_comment,
            "action_data": public_action_data(action.action_data),
            "triggered_from": ActionTriggeredFrom.model_validate(action.triggered_from or {}),
            "resource": ActionResource(
                id=action.resource_id,
                type=action.resource_type,
                type_human_readable=catalog.resource_label(action.resource_type),
            ),
            "organization": (
                OrganizationRelation.model_validate(project.organization)
                if project is not None and project.organization is not None
                else None
            ),
            "project": ProjectRelation.model_validate(project) if project is not None else None,
            "environment": (
                EnvironmentRelation.model_validate(action.environment)
                if action.environment is not None
                else None
            ),
            "summary": summarize(action.targets),
            "targets": [ActionTarget.of(t) for t in action.targets],
            "started_at": action.started_at,
            "completed_at": action.completed_at,
            "created_at": action.created_at,
            "updated_at": action.updated_at,
        }

    @classmethod
    def of(cls, action: ActionModel, base_url: str) -> ActionRelation:
        return cls(**cls.fields_of(action, base_url))


class Action(ActionRelation):
    pipeline_id: int | None
    retry_of: int | None
    parent: RelatedAction | None
    children: list[RelatedAction]
    triggered_by_user: UserRelation | None

    @classmethod
    def of(cls, action: ActionModel, base_url: str) -> Action:
        return cls(
            **cls.fields_of(action, base_url),
            pipeline_id=action.pipeline_id,
            retry_of=action.retry_of,
            parent=RelatedAction.of(action.parent, base_url) if action.parent else None,
            children=[RelatedAction.of(c, base_url) for c in action.children],
            triggered_by_user=(
                UserRelation.model_validate(action.triggered_by_user)
                if action.triggered_by_user
                else None
            ),
        )


class ActionLogStep(ResponseModel):
    order: int
    started_at: Timestamp | None
    completed_at: Timestamp | None
    output: str | None


class ActionPipelineCreate(RequestModel):
    servers: list[Annotated[int, Field(ge=1)]] | None = None
    trigger_comment: Annotated[str, StringConstraints(max_length=255)] | None = None
    source_type: Literal["branch", "commit", "tag"] | None = None
    source_ref: Annotated[str, StringConstraints(max_length=200), ONE_LINE] | None = None


# ---- pipelines -----------------------------------------------------------------------


class Step(ResponseModel):
    id: int
    name: str | None
    description: str | None
    type: str
    run_as_user: str
    command: str
    runner: str
    script_id: int
    pipeline_id: int
    trigger_order: int
    is_auto_generated: bool
    is_default_step: bool
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, step: PipelineStepModel) -> Step:
        return cls(
            id=step.id,
            name=step.name,
            description=step.description,
            type=step.type,
            # The login user of each target server when none is named.
            run_as_user=step.run_as_user or "",
            command=step.command,
            runner=step.runner,
            # Steps carry their script inline: the step is its own script.
            script_id=step.id,
            pipeline_id=step.pipeline_id,
            trigger_order=step.trigger_order,
            is_auto_generated=step.is_auto_generated,
            is_default_step=step.is_default_step,
            created_at=step.created_at,
            updated_at=step.updated_at,
        )


class PipelineRelation(ResponseModel):
    id: int
    name: str
    environment_id: int
    project_id: int
    organization_id: int
    resource_type: str
    resource_type_human_readable: str
    resource_id: int
    operation: str
    operation_human_readable: str
    max_parallel_actions: int
    trigger_when: dict[str, Any] | None
    created_by_user: UserRelation | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def fields_of(cls, pipeline: PipelineModel) -> dict[str, Any]:
        return {
            "id": pipeline.id,
            "name": pipeline.name,
            # The reference has no nulls here: 0 stands for "none" (a project-level pipeline).
            "environment_id": pipeline.environment_id or 0,
            "project_id": pipeline.project_id or 0,
            "organization_id": pipeline.organization_id or 0,
            "resource_type": pipeline.resource_type,
            "resource_type_human_readable": catalog.resource_label(pipeline.resource_type),
            "resource_id": pipeline.resource_id,
            "operation": pipeline.operation,
            "operation_human_readable": catalog.humanize(pipeline.operation),
            "max_parallel_actions": pipeline.max_parallel_actions,
            "trigger_when": pipeline.trigger_when,
            "created_by_user": (
                UserRelation.model_validate(pipeline.created_by_user)
                if pipeline.created_by_user
                else None
            ),
            "created_at": pipeline.created_at,
            "updated_at": pipeline.updated_at,
        }

    @classmethod
    def of(cls, pipeline: PipelineModel) -> PipelineRelation:
        return cls(**cls.fields_of(pipeline))


class Pipeline(PipelineRelation):
    steps: list[Step]

    @classmethod
    def of(cls, pipeline: PipelineModel) -> Pipeline:
        return cls(**cls.fields_of(pipeline), steps=[Step.of(s) for s in pipeline.steps])


PipelineName = Annotated[str, StringConstraints(min_length=3, max_length=80), ONE_LINE]
MaxParallel = Annotated[int, Field(ge=0, le=10)]


class TriggerWhenCondition(RequestModel):
    """One condition on a triggering request's body (the reference's TriggerWhenCondition);
    pipelines and incoming hooks store it and answer it back as given."""

    name: Annotated[str, StringConstraints(max_length=255)] | None = None
    type: Literal["request_body"] = "request_body"
    path: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    accepted_values: list[bool | int | float | str | None] = Field(min_length=1, max_length=100)

    @model_serializer(mode="wrap")
    def _without_empty_name(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The reference's `name` is a string when present, never null.
        data: dict[str, Any] = handler(self)
        if data.get("name") is None:
            data.pop("name", None)
        return data


class TriggerWhen(RequestModel):
    conditions: list[TriggerWhenCondition] = Field(default_factory=list, max_length=20)


class PipelineCreate(RequestModel):
    name: PipelineName
    operation: ActionTypeName
    max_parallel_actions: MaxParallel = 0
    trigger_when: TriggerWhen | None = None


class PipelineUpdate(RequestModel):
    id: int
    name: PipelineName
    max_parallel_actions: MaxParallel | None = None
    trigger_when: TriggerWhen | None = None


StepName = Annotated[str, StringConstraints(min_length=4, max_length=60), ONE_LINE]
StepCommand = Annotated[str, StringConstraints(min_length=10, max_length=300)]


class StepPipelineCreate(RequestModel):
    name: StepName | None = None
    description: Annotated[str, StringConstraints(max_length=255)] | None = None
    type: Annotated[str, StringConstraints(max_length=20), ONE_LINE] = "default-step"
    command: StepCommand
    runner: RunnerName
    run_as_user: Annotated[str, StringConstraints(max_length=60), ONE_LINE] | None = None
    # Extension: seconds the step may run before it is killed and fails.
    timeout_seconds: Annotated[int, Field(ge=1, le=24 * 3600)] = 600


class StepPipelineUpdate(StepPipelineCreate):
    id: int
    trigger_after: Annotated[int, Field(ge=0, le=16777214)] | None = None


def public_action_data(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """Only deployment data (the reference's ActionDeploymentData) is shown, and only once
    the deployed commit is known (its fields are required); what else an action keeps there
    (parameters captured for a removal, hook variables) is internal."""
    commit = (data or {}).get("commit")
    if (
        data
        and data.get("release_name")
        and isinstance(commit, dict)
        and commit.get("hash")
        and commit.get("committed_at")
    ):
        return data
    return None

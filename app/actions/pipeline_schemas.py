"""The reference's shapes of pipelines and their steps: the responses, and the bodies
that create and change them (a pipeline's `trigger_when` conditions included)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
)

from app.actions import catalog
from app.actions.models import Pipeline as PipelineModel
from app.actions.models import PipelineStep as PipelineStepModel
from app.actions.schemas import from_row
from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.resources_common.fields import ONE_LINE
from app.users.schemas import UserRelation

ActionTypeName = Literal[
    "check_provisioned", "configure", "delete", "deploy", "get_status", "provision",
    "reload", "remove", "restart", "rotate_key", "start", "stop",
]
RunnerName = Literal["composer", "custom", "npm", "pip", "yarn"]


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
        return from_row(
            cls, step,
            # The login user of each target server when none is named.
            run_as_user=step.run_as_user or "",
            # Steps carry their script inline: the step is its own script.
            script_id=step.id,
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
    def derived(cls, pipeline: PipelineModel) -> dict[str, Any]:
        """The fields worked out from the pipeline rather than read off it."""
        return {
            # The reference has no nulls here: 0 stands for "none" (a project-level pipeline).
            "environment_id": pipeline.environment_id or 0,
            "project_id": pipeline.project_id or 0,
            "organization_id": pipeline.organization_id or 0,
            "resource_type_human_readable": catalog.resource_label(pipeline.resource_type),
            "operation_human_readable": catalog.humanize(pipeline.operation),
            "created_by_user": (
                UserRelation.model_validate(pipeline.created_by_user)
                if pipeline.created_by_user
                else None
            ),
        }

    @classmethod
    def of(cls, pipeline: PipelineModel) -> Self:
        return from_row(cls, pipeline, **cls.derived(pipeline))


class Pipeline(PipelineRelation):
    steps: list[Step]

    @classmethod
    def derived(cls, pipeline: PipelineModel) -> dict[str, Any]:
        return {**super().derived(pipeline), "steps": [Step.of(s) for s in pipeline.steps]}


PipelineName = Annotated[str, StringConstraints(min_length=3, max_length=80), ONE_LINE]
MaxParallel = Annotated[int, Field(ge=0, le=10)]


class TriggerWhenCondition(RequestModel):
    """One condition on a triggering request's body (the reference's TriggerWhenCondition);
    pipelines and incoming hooks store it and answer it back as given."""

    name: Annotated[str, StringConstraints(max_length=255), ONE_LINE] | None = None
    type: Literal["request_body"] = "request_body"
    path: Annotated[str, StringConstraints(min_length=1, max_length=255), ONE_LINE]
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

"""The reference's response shapes of actions (their targets, steps, summary and log
steps) and the body that runs a pipeline; pipelines and their steps are in
`app.actions.pipeline_schemas`. Each shape is built from its ORM row by `of`."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, Field, StringConstraints

from app.actions import catalog
from app.actions.models import Action as ActionModel
from app.actions.models import ActionStep as ActionStepModel
from app.actions.models import ActionTarget as ActionTargetModel
from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.environments.schemas import EnvironmentRelation
from app.organizations.schemas import OrganizationRelation
from app.projects.schemas import ProjectRelation
from app.resources_common.fields import ONE_LINE
from app.users.schemas import UserRelation

ModelT = TypeVar("ModelT", bound=BaseModel)


def from_row(schema: type[ModelT], row: object, **derived: Any) -> ModelT:
    """A response built from its ORM row: the fields in `derived` as given, every other
    one read from the row's attribute of the same name."""
    as_dict = getattr(row, "_asdict", None)
    if as_dict is not None:
        # A plain row (or a named tuple of one): its columns at once (what the schema does
        # not name is ignored).
        fields: dict[str, Any] = as_dict()
    else:
        fields = {name: getattr(row, name) for name in _read_names(schema, tuple(derived))}
    fields.update(derived)
    return schema.model_validate(fields)


@functools.cache
def _read_names(schema: type[BaseModel], derived: tuple[str, ...]) -> tuple[str, ...]:
    # Worked out once per shape: lists build thousands of steps and targets.
    return tuple(name for name in schema.model_fields if name not in derived)


def status_fields(row: ActionModel | ActionTargetModel | ActionStepModel) -> dict[str, str]:
    """The labels of a row's status and of the reason for it."""
    return {
        "status_human_readable": catalog.status_label(row.status),
        "status_reason_human_readable": catalog.reason_label(
            row.status_reason_code, row.status_message
        ),
    }


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
        return from_row(cls, step, **status_fields(step))


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
    def of(cls, target: ActionTargetModel | Any, steps: Sequence[Any] | None = None
           ) -> ActionTarget:
        """From an ORM target, or a plain row of one with its step rows."""
        steps = [ActionStep.of(s) for s in (target.steps if steps is None else steps)]
        current = next((s for s in steps if s.order == target.current_step_order), None)
        return from_row(
            cls, target, **status_fields(target), current_step=current, steps=steps,
            resource_type_human_readable=catalog.resource_label(target.resource_type),
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
        return from_row(
            cls, action,
            status_human_readable=catalog.status_label(action.status),
            type_human_readable=catalog.humanize(action.type),
            resource_type_human_readable=catalog.resource_label(action.resource_type),
            url_web_permalink=f"{base_url}/actions/{action.id}",
        )


def summarize(targets: Sequence[ActionTargetModel | Any]) -> ActionSummary:
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
    def derived(cls, action: ActionModel, base_url: str,
                targets: Sequence[tuple[Any, Sequence[Any]]] | None = None,
                summary: ActionSummary | None = None) -> dict[str, Any]:
        """The fields worked out from the action rather than read off it; `targets`: plain
        rows of its targets with their steps, instead of the ORM collections; `summary`:
        theirs, when they are written separately (app.actions.answers)."""
        project = action.project
        shown = ([ActionTarget.of(t) for t in action.targets] if targets is None
                 else [ActionTarget.of(t, steps) for t, steps in targets])
        return {
            **status_fields(action),
            "type_human_readable": catalog.humanize(action.type),
            "url_web_permalink": f"{base_url}/actions/{action.id}",
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
            "summary": summary or summarize(
                action.targets if targets is None else [t for t, _ in targets]),
            "targets": shown,
        }

    @classmethod
    def of(cls, action: ActionModel, base_url: str,
           targets: Sequence[tuple[Any, Sequence[Any]]] | None = None,
           summary: ActionSummary | None = None) -> Self:
        return from_row(cls, action, **cls.derived(action, base_url, targets, summary))


class Action(ActionRelation):
    pipeline_id: int | None
    retry_of: int | None
    parent: RelatedAction | None
    children: list[RelatedAction]
    triggered_by_user: UserRelation | None

    @classmethod
    def derived(cls, action: ActionModel, base_url: str,
                targets: Sequence[tuple[Any, Sequence[Any]]] | None = None,
                summary: ActionSummary | None = None) -> dict[str, Any]:
        return {
            **super().derived(action, base_url, targets, summary),
            "parent": RelatedAction.of(action.parent, base_url) if action.parent else None,
            "children": [RelatedAction.of(c, base_url) for c in action.children],
            "triggered_by_user": (
                UserRelation.model_validate(action.triggered_by_user)
                if action.triggered_by_user
                else None
            ),
        }


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

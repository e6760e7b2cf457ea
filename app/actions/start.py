"""Every way an action is created: `start_action` (the one way work starts: an operation
endpoint, a pipeline run), `start_resource_action` (an incoming hook) and
`retry.start_retry` (what failed in a finished action, again). Each writes the action, its
targets and their steps in the caller's transaction and dispatches it once that commits.

Also the registry of what a deploy records in `action_data` (`register_deploy_data`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.actions import catalog
from app.actions.default_steps import ensure_default_pipelines, has_default_steps
from app.actions.dispatch import dispatch_action
from app.actions.metrics import ACTIONS_STARTED
from app.actions.models import (
    Action,
    ActionStatus,
    ActionStep,
    ActionTarget,
    Pipeline,
    PipelineStep,
    ReasonCode,
)
from app.actions.repository import PipelineRepository
from app.actions.targets import (
    TargetResolutionError,
    load_accesses,
    resolve_targets,
    scope_resolver,
    self_target,
)
from app.core.database import after_commit
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.logging import request_id_var
from app.users.models import User

# What a deploy of a resource type records in `action_data` when it is started by running
# its pipeline or by an incoming hook (an application's deployment: which ref to fetch):
# (session, resource id, pipeline id, what was asked: source_type/source_ref) -> data.
DeployData = Callable[[AsyncSession, int, int | None, dict[str, Any]],
                      Awaitable[dict[str, Any] | None]]
_deploy_data: dict[str, DeployData] = {}


def register_deploy_data(resource_type: str, builder: DeployData) -> None:
    """Domains call this at import time."""
    _deploy_data[resource_type] = builder


async def deploy_action_data(
    session: AsyncSession, resource_type: str, resource_id: int, pipeline_id: int | None,
    asked: dict[str, Any],
) -> dict[str, Any] | None:
    builder = _deploy_data.get(resource_type)
    return None if builder is None else await builder(session, resource_id, pipeline_id, asked)


async def trigger_info(
    session: AsyncSession,
    principal: Principal | None,
    trigger_type: str,
    ip_address: str | None,
    origin: str | None,
    hook_id: str | None,
) -> dict[str, Any]:
    user = await session.get(User, principal.user_id) if principal else None
    return {
        "origin": origin,
        "trigger_type": "hook" if trigger_type == "hook" else "manual",
        "name": (user.name or user.email) if user else (f"hook {hook_id}" if hook_id else "system"),
        "email": user.email if user and trigger_type != "hook" else None,
        "ip_address": ip_address or "",
        "user_id": user.id if user and trigger_type != "hook" else None,
        "hook_id": hook_id,
        "hook_request_id": None,
        # The request that started the action: workers log under the same id, so one
        # request can be followed from the API into every line the action writes.
        "request_id": request_id_var.get(),
    }


async def start_action(
    session: AsyncSession,
    *,
    resource_type: str,
    resource_id: int,
    operation: str,
    triggered_by: Principal | None,
    triggered_from: str = "manual",
    project_id: int | None,
    environment_id: int | None = None,
    organization_id: int | None = None,
    pipeline_id: int | None = None,
    server_ids: Sequence[int] | None = None,
    trigger_comment: str | None = None,
    action_data: dict[str, Any] | None = None,
    time_limit_seconds: int | None = None,
    ip_address: str | None = None,
    origin: str | None = None,
    hook_id: str | None = None,
) -> Action:
    """Record an action for `operation` on a resource and dispatch it once committed.

    Targets are the servers the resource runs on (see `targets.register_target_resolver`),
    optionally narrowed to `server_ids`; steps are a snapshot of the pipeline (`pipeline_id`,
    else the resource's default pipeline for `operation`). Returns the pending Action: its
    id is what operation endpoints put in `X-Devopness-Action-Id`.
    """
    if operation not in catalog.ACTION_TYPES:
        raise ValidationFailed.field("operation", f"Unknown operation {operation!r}.")
    pipelines = PipelineRepository(session)
    pipeline: Pipeline | None
    if pipeline_id is not None:
        pipeline = await session.get(Pipeline, pipeline_id)
        if pipeline is None:
            raise NotFound("Pipeline not found.")
    else:
        pipeline = await pipelines.default_for(resource_type, resource_id, operation)
        if pipeline is None and has_default_steps(resource_type, operation):
            # Made with the resource normally; a resource from before this operation had
            # built-in steps gets its default pipeline on first use.
            created = await ensure_default_pipelines(
                session, resource_type, resource_id, project_id=project_id,
                environment_id=environment_id, organization_id=organization_id,
                created_by=triggered_by.user_id if triggered_by else None,
                operations=[operation],
            )
            pipeline = created[0] if created else None
    steps: Sequence[PipelineStep] = ()
    if pipeline is not None:
        steps = (
            await session.scalars(
                select(PipelineStep)
                .where(PipelineStep.pipeline_id == pipeline.id, PipelineStep.linked)
                .order_by(PipelineStep.trigger_order, PipelineStep.id)
            )
        ).all()
    describe = self_target(resource_type)
    if describe is not None:
        data = await describe(session, resource_id)
        if data is None:
            raise NotFound(f"{catalog.resource_label(resource_type)} not found.")
        # The resource itself (a network at its provider); server_id 0: no server, so no
        # concurrency slot is ever counted against one.
        targets = [target_row(resource_type, resource_id, 0, 0, data)]
    else:
        targets = await _server_targets(session, resource_type, resource_id, server_ids)

    action = Action(
        type=operation,
        resource_type=resource_type,
        resource_id=resource_id,
        pipeline_id=pipeline.id if pipeline is not None else None,
        environment_id=environment_id,
        project_id=project_id,
        organization_id=organization_id,
        trigger_comment=trigger_comment,
        triggered_from=await trigger_info(
            session, triggered_by, triggered_from, ip_address, origin, hook_id
        ),
        triggered_by=triggered_by.user_id if triggered_by else None,
        action_data=action_data,
        time_limit_seconds=time_limit_seconds,
    )
    session.add(action)
    await session.flush()
    for target in targets:
        target["total_steps"] = len(steps)
    await insert_targets(
        session, action.id, targets,
        lambda _: (step_row(n, step) for n, step in enumerate(steps, 1)),
    )
    dispatch_after_commit(session, action.id)
    after_commit(session, _count_started(resource_type, operation))
    return action


class CannotStartAction(Conflict):
    default_message = "This operation runs as an action, and there is nowhere to run it."


@dataclass(frozen=True)
class TriggeredFrom:
    """Who or what asked for the action: a person (principal) or an incoming hook."""

    ip_address: str | None
    principal: Principal | None = None
    hook_id: str | None = None
    hook_request_id: str | None = None
    origin: str | None = None


async def start_resource_action(
    session: AsyncSession,
    *,
    resource_type: str,
    resource_id: int,
    action_type: str,
    triggered_from: TriggeredFrom,
    pipeline_id: int | None = None,
    variables: dict[str, object] | None = None,
    action_data: dict[str, object] | None = None,
) -> int:
    """Start an action (dispatched after commit) for an incoming hook and return its id.
    `action_data` is what the resource's operation reads (an application deploy's
    `deployment`); the hook's variables are kept beside it.

    It runs the pipeline named by the hook (or the resource's default pipeline for the
    operation) on the servers the resource runs on; a resource the engine cannot place
    anywhere (no servers, no registered target resolver) is a clear error, never a fake
    run."""
    operation = action_type.replace("-", "_")
    if pipeline_id is not None:
        pipeline = await session.get(Pipeline, pipeline_id)
        if pipeline is None:
            raise CannotStartAction(f"Pipeline {pipeline_id} no longer exists.")
        environment_id, project_id, organization_id = (
            pipeline.environment_id, pipeline.project_id, pipeline.organization_id
        )
    else:
        resolve = scope_resolver(resource_type)
        scope = await resolve(session, resource_id) if resolve is not None else None
        if scope is None:
            raise CannotStartAction(
                f"Cannot start '{action_type}' on {resource_type} {resource_id}: actions on "
                f"{resource_type} resources have no servers to run on."
            )
        environment_id, project_id, organization_id = (
            scope.environment_id, scope.project_id, scope.organization_id
        )
    action = await start_action(
        session,
        resource_type=resource_type,
        resource_id=resource_id,
        operation=operation,
        triggered_by=triggered_from.principal,
        triggered_from="hook" if triggered_from.hook_id else "manual",
        project_id=project_id,
        environment_id=environment_id,
        organization_id=organization_id,
        pipeline_id=pipeline_id,
        action_data=(
            {**(action_data or {}), **({"variables": variables} if variables else {})} or None
        ),
        ip_address=triggered_from.ip_address,
        origin=triggered_from.origin,
        hook_id=triggered_from.hook_id,
    )
    return action.id


async def _server_targets(
    session: AsyncSession, resource_type: str, resource_id: int,
    server_ids: Sequence[int] | None,
) -> list[dict[str, Any]]:
    """One target per server the resource runs on (narrowed to `server_ids`), each with
    the snapshot of the server the reference shows."""
    try:
        servers = await resolve_targets(session, resource_type, resource_id)
    except TargetResolutionError as exc:
        raise ValidationFailed.field("resource_type", str(exc)) from exc
    if server_ids is not None:
        unknown = sorted(set(server_ids) - set(servers))
        if unknown:
            raise ValidationFailed.field(
                "servers", f"The resource does not run on server(s) {unknown}."
            )
        servers = [s for s in servers if s in set(server_ids)]
    if not servers:
        raise ValidationFailed.field("servers", "The resource is not linked to any server.")
    try:
        # One query for all of them: an action over 2,000 servers answers in one round trip.
        accesses = await load_accesses(session, servers)
    except TargetResolutionError as exc:
        # Nothing can reach servers yet (no resource domain registered): say so, never 500.
        raise ValidationFailed.field("servers", str(exc)) from exc
    targets = []
    for server_id in servers:
        access = accesses.get(server_id)
        if isinstance(access, Exception):
            raise access
        if access is None:
            raise ValidationFailed.field("servers", f"Server {server_id} cannot be reached.")
        targets.append(target_row("server", server_id, server_id, access.max_parallel_actions,
                                   access.resource_data()))
    return targets


def target_row(
    resource_type: str, resource_id: int, server_id: int, max_parallel_actions: int,
    resource_data: dict[str, Any] | None, total_steps: int = 0,
) -> dict[str, Any]:
    return {"resource_type": resource_type, "resource_id": resource_id, "server_id": server_id,
            "max_parallel_actions": max_parallel_actions, "resource_data": resource_data,
            "total_steps": total_steps}


def step_row(
    order: int, step: PipelineStep | ActionStep, *, skipped_by: int | None = None
) -> dict[str, Any]:
    """A step of a new action; `skipped_by`: the action in which it already completed."""
    return {
        "order": order, "name": step.name, "description": step.description,
        "command": step.command, "run_as_user": step.run_as_user,
        "timeout_seconds": step.timeout_seconds,
        "status": ActionStatus.SKIPPED if skipped_by else ActionStatus.PENDING,
        "status_reason_code": ReasonCode.SKIPPED if skipped_by else ReasonCode.PENDING,
        "status_message": f"Skipped: completed in action {skipped_by}." if skipped_by else None,
    }


async def insert_targets(
    session: AsyncSession, action_id: int, targets: Sequence[dict[str, Any]],
    steps: Callable[[dict[str, Any]], Iterable[dict[str, Any]]],
) -> None:
    """Insert an action's targets and their steps (`steps(target)`) as two batched
    statements. Through the ORM each row would be its own INSERT on SQLite, which cannot
    return the ids of a multi-row insert in order: ids are read back by server instead
    (an action targets a server once)."""
    await session.execute(insert(ActionTarget), [{**t, "action_id": action_id} for t in targets])
    ids: dict[int, int] = {
        server_id: target_id for server_id, target_id in await session.execute(
            select(ActionTarget.server_id, ActionTarget.id)
            .where(ActionTarget.action_id == action_id)
        )
    }
    if len(ids) != len(targets):
        raise RuntimeError(f"action {action_id} targets a server more than once")
    rows = [
        {**step, "action_id": action_id, "action_target_id": ids[target["server_id"]]}
        for target in targets for step in steps(target)
    ]
    if rows:
        await session.execute(insert(ActionStep), rows)


def _count_started(resource_type: str, operation: str) -> Callable[[], Awaitable[None]]:
    async def count() -> None:
        ACTIONS_STARTED.labels(resource_type, operation).inc()

    return count


def dispatch_after_commit(session: AsyncSession, action_id: int) -> None:
    async def dispatch() -> None:
        await dispatch_action(action_id)

    after_commit(session, dispatch)

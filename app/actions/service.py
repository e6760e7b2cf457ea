"""Rules for pipelines and actions, and `start_action`: the one way work starts.

Services flush; the request commits; dispatch happens only after the commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.permissions import Authorizer, operation_permission
from app.actions import catalog
from app.actions.dispatch import dispatch_action
from app.actions.metrics import ACTIONS_STARTED
from app.actions.models import (
    FINISHED,
    Action,
    ActionStatus,
    ActionStep,
    ActionTarget,
    Pipeline,
    PipelineStep,
    ReasonCode,
)
from app.actions.repository import (
    ActionRepository,
    PipelineRepository,
    mark_unstarted_failed,
)
from app.actions.schemas import (
    ActionPipelineCreate,
    PipelineCreate,
    PipelineUpdate,
    StepPipelineCreate,
    StepPipelineUpdate,
)
from app.actions.targets import (
    ResourceScope,
    TargetResolutionError,
    resolve_targets,
    scope_resolver,
    self_target,
    server_access_provider,
)
from app.core.database import after_commit, utcnow
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.logging import request_id_var
from app.core.pagination import PageParams
from app.projects.models import Project
from app.resources_common import links
from app.users.models import User

STEP_ORDER_GAP = 1000


async def authorize_scope(
    authorizer: Authorizer,
    principal: Principal,
    *,
    environment_id: int | None,
    project_id: int | None,
    permission: str,
    not_found: str,
) -> None:
    """404 unless the caller sees the environment (or project); 403 without `permission`."""
    if environment_id is not None:
        await authorizer.environment(principal, environment_id, permission, not_found=not_found)
    elif project_id is not None:
        await authorizer.project(principal, project_id, permission, not_found=not_found)
    else:
        raise NotFound(not_found)


@dataclass(frozen=True)
class StepTemplate:
    """A default step of a resource operation's pipeline, registered by its domain."""

    name: str
    command: str
    run_as_user: str | None = None
    timeout_seconds: int = 600
    description: str | None = None


# (resource type, operation, variant) -> steps; variant None is the default.
_default_steps: dict[tuple[str, str, str | None], tuple[StepTemplate, ...]] = {}
VariantResolver = Callable[[AsyncSession, int], Awaitable[str | None]]
_variants: dict[str, VariantResolver] = {}


def register_default_steps(
    resource_type: str, operation: str, steps: Sequence[StepTemplate],
    *, variant: str | None = None,
) -> None:
    """What a resource operation runs by default (domains call this at import time).
    A `variant` (say "cloud" for servers) applies to the resources the type's variant
    resolver puts in it; the others get the default steps."""
    _default_steps[(resource_type, operation, variant)] = tuple(steps)


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


def register_variant_resolver(resource_type: str, resolver: VariantResolver) -> None:
    _variants[resource_type] = resolver


def has_default_steps(resource_type: str, operation: str) -> bool:
    return any(key[:2] == (resource_type, operation) for key in _default_steps)


async def _templates(
    session: AsyncSession, resource_type: str, resource_id: int, operation: str
) -> tuple[StepTemplate, ...]:
    resolver = _variants.get(resource_type)
    variant = await resolver(session, resource_id) if resolver else None
    if variant is not None and (resource_type, operation, variant) in _default_steps:
        return _default_steps[(resource_type, operation, variant)]
    return _default_steps.get((resource_type, operation, None), ())


async def ensure_default_pipelines(
    session: AsyncSession,
    resource_type: str,
    resource_id: int,
    *,
    project_id: int | None,
    environment_id: int | None = None,
    organization_id: int | None = None,
    created_by: int | None = None,
    operations: Sequence[str] | None = None,
) -> list[Pipeline]:
    """Create the default pipeline of each operation of a resource (idempotent)."""
    if operations is None:
        operations = catalog.DEFAULT_OPERATIONS.get(resource_type, ())
    ops = operations
    existing = {
        p.operation
        for p in await PipelineRepository(session).for_resource(resource_type, resource_id)
        if p.is_default
    }
    created: list[Pipeline] = []
    for operation in ops:
        if operation in existing:
            continue
        pipeline = Pipeline(
            name=f"{catalog.humanize(operation)} {catalog.resource_label(resource_type)}"[:80],
            resource_type=resource_type,
            resource_id=resource_id,
            operation=operation,
            max_parallel_actions=0,
            is_default=True,
            environment_id=environment_id,
            project_id=project_id,
            organization_id=organization_id,
            created_by=created_by,
        )
        session.add(pipeline)
        await session.flush()
        templates = await _templates(session, resource_type, resource_id, operation)
        for n, template in enumerate(templates, 1):
            session.add(
                PipelineStep(
                    pipeline_id=pipeline.id,
                    name=template.name,
                    description=template.description,
                    command=template.command,
                    runner="custom",
                    run_as_user=template.run_as_user,
                    trigger_order=n * STEP_ORDER_GAP,
                    timeout_seconds=template.timeout_seconds,
                    is_auto_generated=True,
                    is_default_step=True,
                )
            )
        created.append(pipeline)
    await session.flush()
    return created


async def _trigger_info(
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
        targets = [_target_row(resource_type, resource_id, 0, 0, data)]
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
        triggered_from=await _trigger_info(
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
    await _insert_targets(
        session, action.id, targets,
        lambda _: (_step_row(n, step) for n, step in enumerate(steps, 1)),
    )
    _dispatch_after_commit(session, action.id)
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
        provider = server_access_provider()
    except TargetResolutionError as exc:
        # Nothing can reach servers yet (no resource domain registered): say so, never 500.
        raise ValidationFailed.field("servers", str(exc)) from exc
    targets = []
    for server_id in servers:
        access = await provider.get_access(session, server_id)
        if access is None:
            raise ValidationFailed.field("servers", f"Server {server_id} cannot be reached.")
        targets.append(_target_row("server", server_id, server_id, access.max_parallel_actions,
                                   access.resource_data()))
    return targets


def _target_row(
    resource_type: str, resource_id: int, server_id: int, max_parallel_actions: int,
    resource_data: dict[str, Any] | None, total_steps: int = 0,
) -> dict[str, Any]:
    return {"resource_type": resource_type, "resource_id": resource_id, "server_id": server_id,
            "max_parallel_actions": max_parallel_actions, "resource_data": resource_data,
            "total_steps": total_steps}


def _step_row(
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


async def _insert_targets(
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


async def delete_resource_pipelines(
    session: AsyncSession, resource_type: str, resource_id: int
) -> None:
    """With its resource: every pipeline of it (steps and hooks follow by cascade). Past
    actions stay as history, their `pipeline_id` cleared."""
    await session.execute(
        delete(Pipeline).where(
            Pipeline.resource_type == resource_type, Pipeline.resource_id == resource_id
        )
    )


def _dispatch_after_commit(session: AsyncSession, action_id: int) -> None:
    async def dispatch() -> None:
        await dispatch_action(action_id)

    after_commit(session, dispatch)


async def find_resource_scope(
    session: AsyncSession, resource_type: str, resource_id: int, *, as_target: bool = False
) -> ResourceScope | None:
    """The environment/project of a resource: from its domain, else from our own rows."""
    resolver = scope_resolver(resource_type)
    if resolver is not None:
        return await resolver(session, resource_id)
    row = (
        await session.execute(
            select(Pipeline.environment_id, Pipeline.project_id, Pipeline.organization_id)
            .where(Pipeline.resource_type == resource_type, Pipeline.resource_id == resource_id)
            .order_by(Pipeline.id)
            .limit(1)
        )
    ).first()
    if row is None:
        stmt = select(Action.environment_id, Action.project_id, Action.organization_id)
        if as_target:
            stmt = stmt.join(ActionTarget, ActionTarget.action_id == Action.id).where(
                ActionTarget.resource_type == resource_type,
                ActionTarget.resource_id == resource_id,
            )
        else:
            stmt = stmt.where(
                Action.resource_type == resource_type, Action.resource_id == resource_id
            )
        row = (await session.execute(stmt.order_by(Action.id).limit(1))).first()
    if row is None:
        return None
    return ResourceScope(environment_id=row[0], project_id=row[1], organization_id=row[2])


async def authorize_resource(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    resource_id: int,
    permission: str,
    *,
    as_target: bool = False,
) -> ResourceScope:
    not_found = f"{catalog.resource_label(resource_type)} not found."
    if resource_type not in catalog.RESOURCE_TYPES:
        raise NotFound(not_found)
    scope = await find_resource_scope(session, resource_type, resource_id, as_target=as_target)
    if scope is None:
        raise NotFound(not_found)
    await authorize_scope(
        Authorizer(session), principal, environment_id=scope.environment_id,
        project_id=scope.project_id, permission=permission, not_found=not_found,
    )
    return scope


class ActionService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.actions = ActionRepository(session)
        self.authorizer = Authorizer(session)

    async def _check(self, principal: Principal, action: Action, permission: str) -> None:
        await authorize_scope(
            self.authorizer, principal, environment_id=action.environment_id,
            project_id=action.project_id, permission=permission, not_found="Action not found.",
        )

    async def get(self, principal: Principal, action_id: int) -> Action:
        action = await self.actions.get_readable(principal, action_id)
        if action is None:
            raise NotFound("Action not found.")
        return action

    async def readable_status(self, principal: Principal, action_id: int) -> str:
        status = await self.actions.readable_status(principal, action_id)
        if status is None:
            raise NotFound("Action not found.")
        return status

    async def status(self, action_id: int) -> str | None:
        return await self.session.scalar(select(Action.status).where(Action.id == action_id))

    async def reload(self, action_id: int) -> Action:
        action = await self.actions.get_full(action_id)
        if action is None:
            raise NotFound("Action not found.")
        return action

    async def list(
        self, principal: Principal, page: PageParams, **filters: Any
    ) -> Sequence[Action]:
        return await self.actions.list(principal, page, **filters)

    async def list_by_target(
        self, principal: Principal, page: PageParams, resource_type: str, resource_id: int
    ) -> Sequence[Action]:
        await authorize_resource(
            self.session, principal, resource_type, resource_id, "action:read", as_target=True
        )
        return await self.actions.list_by_target(principal, page, resource_type, resource_id)

    async def list_by_resource(
        self, principal: Principal, page: PageParams, resource_type: str, resource_id: int
    ) -> Sequence[Action]:
        await authorize_resource(self.session, principal, resource_type, resource_id,
                                 "action:read")
        return await self.actions.list(
            principal, page, resource_type=resource_type, resource_id=resource_id
        )

    async def list_for_project(
        self, principal: Principal, page: PageParams, project_id: int, **filters: Any
    ) -> Sequence[Action]:
        await self.authorizer.project(principal, project_id, "action:read")
        return await self.actions.list(principal, page, project_id=project_id, **filters)

    async def list_for_environment(
        self, principal: Principal, page: PageParams, environment_id: int, **filters: Any
    ) -> Sequence[Action]:
        await self.authorizer.environment(principal, environment_id, "action:read")
        return await self.actions.list(principal, page, environment_id=environment_id, **filters)

    async def step_for_log(
        self, principal: Principal, action_id: int, target_id: int, order: int
    ) -> tuple[ActionTarget, ActionStep]:
        await self.get(principal, action_id)
        target = await self.actions.target(action_id, target_id)
        step = await self.actions.step(action_id, target_id, order) if target else None
        if target is None or step is None:
            raise NotFound("Action step not found.")
        return target, step

    async def _check_operation(self, principal: Principal, action: Action, *also: str) -> None:
        """Retrying or cancelling an action is performing its operation on its resource:
        the same permission as starting it (a token refused `stop` cannot retry a `stop`),
        plus what acting on the action itself needs."""
        for permission in (*also, operation_permission(action.resource_type, action.type)):
            await self._check(principal, action, permission)

    async def retry(self, principal: Principal, action_id: int) -> Action:
        original = await self.get(principal, action_id)
        await self._check_operation(principal, original, "action:retry")
        if original.status not in FINISHED:
            raise Conflict("Only a finished action can be retried.")
        failed = [t for t in original.targets if t.status == ActionStatus.FAILED]
        if not failed:
            raise Conflict("The action has nothing that failed to retry.")
        action = Action(
            type=original.type,
            resource_type=original.resource_type,
            resource_id=original.resource_id,
            pipeline_id=original.pipeline_id,
            retry_of=original.id,
            environment_id=original.environment_id,
            project_id=original.project_id,
            organization_id=original.organization_id,
            trigger_comment=original.trigger_comment,
            triggered_from=await _trigger_info(
                self.session, principal, "manual", original.triggered_from.get("ip_address"),
                original.triggered_from.get("origin"), None,
            ),
            triggered_by=principal.user_id,
            action_data=original.action_data,
            time_limit_seconds=original.time_limit_seconds,
        )
        self.session.add(action)
        await self.session.flush()
        previous = {old.server_id: old for old in failed}
        await _insert_targets(
            self.session, action.id,
            [_target_row(old.resource_type, old.resource_id, old.server_id,
                         old.max_parallel_actions, old.resource_data, old.total_steps)
             for old in failed],
            # Steps that completed are not run again: only what failed is retried.
            lambda target: (
                _step_row(step.order, step, skipped_by=(
                    original.id if step.status == ActionStatus.COMPLETED else None))
                for step in previous[target["server_id"]].steps
            ),
        )
        _dispatch_after_commit(self.session, action.id)
        return await self.reload(action.id)

    async def cancel(self, principal: Principal, action_id: int) -> Action:
        action = await self.get(principal, action_id)
        await self._check_operation(principal, action)
        if action.status in FINISHED:
            raise Conflict("The action has already finished.")
        now = utcnow()
        await self.session.execute(
            update(Action)
            .where(Action.id == action_id, Action.cancel_requested_at.is_(None))
            .values(cancel_requested_at=now)
        )
        # Not claimed by a worker yet: finish it here; a running one is stopped by its worker.
        claimed = await self.session.scalar(
            select(func.count()).select_from(Action).where(
                Action.id == action_id,
                Action.status.in_(
                    [ActionStatus.PENDING, ActionStatus.QUEUED, ActionStatus.WAITING]
                ),
            )
        )
        if claimed:
            await mark_unstarted_failed(self.session, action_id, "Cancelled before it started.")
        await self.session.flush()
        return await self.reload(action_id)


class PipelineService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.pipelines = PipelineRepository(session)
        self.authorizer = Authorizer(session)

    async def get(self, principal: Principal, pipeline_id: int, permission: str) -> Pipeline:
        pipeline = await self.pipelines.get_readable(principal, pipeline_id)
        if pipeline is None:
            raise NotFound("Pipeline not found.")
        await authorize_scope(
            self.authorizer, principal, environment_id=pipeline.environment_id,
            project_id=pipeline.project_id, permission=permission,
            not_found="Pipeline not found.",
        )
        return pipeline

    async def list_for_resource(
        self, principal: Principal, page: PageParams, resource_type: str, resource_id: int
    ) -> Sequence[Pipeline]:
        await authorize_resource(self.session, principal, resource_type, resource_id,
                                 "pipeline:read")
        return await self.pipelines.list_for_resource(principal, page, resource_type, resource_id)

    async def create(
        self, principal: Principal, resource_type: str, resource_id: int, data: PipelineCreate
    ) -> Pipeline:
        scope = await authorize_resource(
            self.session, principal, resource_type, resource_id, "pipeline:create"
        )
        pipeline = Pipeline(
            name=data.name,
            resource_type=resource_type,
            resource_id=resource_id,
            operation=data.operation,
            max_parallel_actions=data.max_parallel_actions,
            trigger_when=data.trigger_when.model_dump() if data.trigger_when else None,
            is_default=False,
            environment_id=scope.environment_id,
            project_id=scope.project_id,
            organization_id=scope.organization_id,
            created_by=principal.user_id,
        )
        self.session.add(pipeline)
        await self.session.flush()
        return await self.get(principal, pipeline.id, "pipeline:read")

    async def update(self, principal: Principal, pipeline_id: int, data: PipelineUpdate) -> None:
        if data.id != pipeline_id:
            raise ValidationFailed.field("id", "The id must match the pipeline in the URL.")
        pipeline = await self.get(principal, pipeline_id, "pipeline:update")
        pipeline.name = data.name
        if data.max_parallel_actions is not None:
            pipeline.max_parallel_actions = data.max_parallel_actions
        if "trigger_when" in data.model_fields_set:
            pipeline.trigger_when = data.trigger_when.model_dump() if data.trigger_when else None
        await self.session.flush()

    async def delete(self, principal: Principal, pipeline_id: int) -> None:
        pipeline = await self.get(principal, pipeline_id, "pipeline:delete")
        if pipeline.is_default:
            raise Forbidden("The default pipeline of an operation cannot be deleted.")
        await self.session.delete(pipeline)
        await self.session.flush()

    async def add_step(
        self, principal: Principal, pipeline_id: int, data: StepPipelineCreate
    ) -> PipelineStep:
        pipeline = await self.get(principal, pipeline_id, "pipeline:update")
        last = max((s.trigger_order for s in pipeline.steps), default=0)
        step = PipelineStep(
            pipeline_id=pipeline.id,
            name=data.name,
            description=data.description,
            type=data.type,
            command=data.command,
            runner=data.runner,
            run_as_user=data.run_as_user,
            trigger_order=last + STEP_ORDER_GAP,
            timeout_seconds=data.timeout_seconds,
        )
        self.session.add(step)
        await self.session.flush()
        return step

    async def _step(self, pipeline: Pipeline, step_id: int) -> PipelineStep:
        step = await self.session.get(PipelineStep, step_id)
        if step is None or step.pipeline_id != pipeline.id:
            raise NotFound("Pipeline step not found.")
        return step

    async def update_step(
        self, principal: Principal, pipeline_id: int, step_id: int, data: StepPipelineUpdate
    ) -> None:
        if data.id != step_id:
            raise ValidationFailed.field("id", "The id must match the step in the URL.")
        pipeline = await self.get(principal, pipeline_id, "pipeline:update")
        step = await self._step(pipeline, step_id)
        if step.is_default_step:
            raise Forbidden("A default step cannot be changed.")
        for name in ("name", "description", "type", "command", "runner", "run_as_user",
                     "timeout_seconds"):
            if name in data.model_fields_set:
                setattr(step, name, getattr(data, name))
        if data.trigger_after is not None:
            # Between the step at `trigger_after` and the next one, renumbering if crowded.
            orders = sorted(
                s.trigger_order for s in pipeline.steps if s.id != step.id
            )
            following = [o for o in orders if o > data.trigger_after]
            upper = following[0] if following else data.trigger_after + 2 * STEP_ORDER_GAP
            if upper - data.trigger_after < 2:
                await self._renumber(pipeline)
                await self.update_step(principal, pipeline_id, step_id, data)
                return
            step.trigger_order = (data.trigger_after + upper) // 2
        await self.session.flush()

    async def _renumber(self, pipeline: Pipeline) -> None:
        for n, s in enumerate(pipeline.steps, 1):
            s.trigger_order = n * STEP_ORDER_GAP
        await self.session.flush()

    async def link_step(self, principal: Principal, pipeline_id: int, step_id: int) -> None:
        pipeline = await self.get(principal, pipeline_id, "pipeline:update")
        step = await self.session.get(PipelineStep, step_id)
        if step is None:
            raise NotFound("Pipeline step not found.")
        if step.pipeline_id != pipeline.id:
            # Copying a step hands its command (secrets included) to this pipeline: the
            # caller must read the step's own pipeline, wherever it is (404 when they cannot
            # see it, 403 without pipeline:read there), and both share the project.
            try:
                source = await self.get(principal, step.pipeline_id, "pipeline:read")
            except NotFound:
                raise NotFound("Pipeline step not found.") from None
            if source.project_id != pipeline.project_id:
                raise NotFound("Pipeline step not found.")
        last = max((s.trigger_order for s in pipeline.steps), default=0)
        if step.pipeline_id == pipeline.id:
            if not step.linked:
                step.linked = True
                step.trigger_order = last + STEP_ORDER_GAP
        else:
            # A step of another pipeline of the same project is linked as a copy, so
            # editing one pipeline never changes what another runs.
            self.session.add(
                PipelineStep(
                    pipeline_id=pipeline.id,
                    name=step.name,
                    description=step.description,
                    type=step.type,
                    command=step.command,
                    runner=step.runner,
                    run_as_user=step.run_as_user,
                    trigger_order=last + STEP_ORDER_GAP,
                    timeout_seconds=step.timeout_seconds,
                )
            )
        await self.session.flush()

    async def unlink_step(self, principal: Principal, pipeline_id: int, step_id: int) -> None:
        pipeline = await self.get(principal, pipeline_id, "pipeline:update")
        step = await self._step(pipeline, step_id)
        if step.is_default_step:
            raise Forbidden("A default step cannot be unlinked.")
        step.linked = False
        await self.session.flush()

    async def run(
        self,
        principal: Principal,
        pipeline_id: int,
        data: ActionPipelineCreate,
        ip_address: str | None,
    ) -> Action:
        pipeline = await self.get(principal, pipeline_id, "pipeline:read")
        # Running a pipeline is performing its operation on the resource.
        await authorize_scope(
            self.authorizer, principal, environment_id=pipeline.environment_id,
            project_id=pipeline.project_id,
            permission=operation_permission(pipeline.resource_type, pipeline.operation),
            not_found="Pipeline not found.",
        )
        project = await self.session.get(Project, pipeline.project_id)
        if pipeline.operation == "deploy" and pipeline.environment_id is not None:
            # Running a deploy pipeline is a deploy: it links the servers it names, as the
            # resource's own deploy operation does.
            await links.link_deploy_targets(
                self.session, pipeline.resource_type, pipeline.resource_id,
                pipeline.environment_id, data.servers,
                link_first_server=pipeline.resource_type == "application", strict=False,
            )
        action_data = None
        if pipeline.operation == "deploy":
            asked = {key: value for key, value in (
                ("source_type", data.source_type), ("source_ref", data.source_ref)
            ) if value is not None}
            action_data = await deploy_action_data(
                self.session, pipeline.resource_type, pipeline.resource_id, pipeline.id, asked
            )
        action = await start_action(
            self.session,
            resource_type=pipeline.resource_type,
            resource_id=pipeline.resource_id,
            operation=pipeline.operation,
            triggered_by=principal,
            project_id=pipeline.project_id,
            environment_id=pipeline.environment_id,
            organization_id=project.organization_id if project else pipeline.organization_id,
            pipeline_id=pipeline.id,
            server_ids=data.servers,
            trigger_comment=data.trigger_comment,
            action_data=action_data,
            ip_address=ip_address,
        )
        return await ActionService(self.session).reload(action.id)

    async def list_actions(
        self, principal: Principal, page: PageParams, pipeline_id: int
    ) -> Sequence[Action]:
        await self.get(principal, pipeline_id, "pipeline:read")
        return await ActionRepository(self.session).list(principal, page, pipeline_id=pipeline_id)

"""The one place credentials, networks and hooks start work on the action engine.

The action runs the pipeline named by a hook (or the resource's default pipeline for the
operation) on the servers the resource runs on; a resource type the engine cannot place
anywhere (no servers, no registered target resolver) is a clear error, never a fake run.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import Conflict


class EngineUnavailable(Conflict):
    default_message = (
        "This operation runs as an action, and the action engine is not available on this "
        "server yet."
    )


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
    """Create an action (dispatched after commit) and return its id. `action_data` is what
    the resource's operation reads (an application deploy's `deployment`); the hook's
    variables are kept beside it."""
    from app.actions import targets
    from app.actions.models import Pipeline
    from app.actions.service import start_action

    operation = action_type.replace("-", "_")
    if pipeline_id is not None:
        pipeline = await session.get(Pipeline, pipeline_id)
        if pipeline is None:
            raise EngineUnavailable(f"Pipeline {pipeline_id} no longer exists.")
        environment_id, project_id, organization_id = (
            pipeline.environment_id, pipeline.project_id, pipeline.organization_id
        )
    else:
        resolve = targets.scope_resolver(resource_type)
        scope = await resolve(session, resource_id) if resolve is not None else None
        if scope is None:
            raise EngineUnavailable(
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

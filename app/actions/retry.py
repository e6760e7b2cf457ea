"""A retry: a new action that runs what failed in a finished one again."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.actions import builtins
from app.actions.models import Action, ActionStatus, ActionTarget
from app.actions.start import (
    dispatch_after_commit,
    insert_targets,
    step_row,
    target_row,
    trigger_info,
)


async def start_retry(
    session: AsyncSession, principal: Principal, original: Action, failed: Sequence[ActionTarget]
) -> Action:
    """A new action that runs the `failed` targets of `original` again (its `retry_of`);
    steps that completed there are skipped, but from the first whose work a later failure
    undid (`builtins.undone_by_failure`: a deploy's fetch, whose release a failed build
    removed) all run again."""
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
        triggered_from=await trigger_info(
            session, principal, "manual", original.triggered_from.get("ip_address"),
            original.triggered_from.get("origin"), None,
        ),
        triggered_by=principal.user_id,
        action_data=original.action_data,
        time_limit_seconds=original.time_limit_seconds,
    )
    session.add(action)
    await session.flush()
    previous = {old.server_id: old.steps for old in failed}

    def steps(target: dict[str, Any]) -> Iterator[dict[str, Any]]:
        old = previous[target["server_id"]]
        skips = builtins.skipped_on_retry(
            [(step.command, step.status == ActionStatus.COMPLETED) for step in old])
        for step, skip in zip(old, skips, strict=True):
            yield step_row(step.order, step, skipped_by=original.id if skip else None)

    await insert_targets(
        session, action.id,
        [target_row(old.resource_type, old.resource_id, old.server_id,
                     old.max_parallel_actions, old.resource_data, old.total_steps)
         for old in failed],
        steps,
    )
    dispatch_after_commit(session, action.id)
    return action

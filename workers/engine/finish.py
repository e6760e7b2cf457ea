"""Finishing an action: its status from its targets', metrics, a signal to readers, and
the listeners told (after the commit, without waiting for them)."""

from __future__ import annotations

from sqlalchemy import select

from app.actions.bus import action_topic
from app.actions.listeners import (
    ActionFinished,
    ActionStateChanged,
    apply_outcome,
    notify_finished,
    notify_state_changed,
)
from app.actions.metrics import ACTION_DURATION, ACTIONS_FINISHED
from app.actions.models import Action, ActionStatus, ActionTarget, ReasonCode
from app.core.database import utcnow
from workers.engine.run import ActionRun, plain_update


async def finish(run: ActionRun) -> str:
    now = utcnow()
    async with run.database.transaction() as session:
        rows = (
            await session.execute(
                select(ActionTarget.status, ActionTarget.status_message)
                .where(ActionTarget.action_id == run.action_id)
                .order_by(ActionTarget.id)
            )
        ).all()
        failed = [r for r in rows if r.status == ActionStatus.FAILED]
        status = ActionStatus.FAILED if failed else ActionStatus.COMPLETED
        message = None
        if run.stop.is_set():
            message = run.stop_reason
        elif failed:
            message = (
                f"Failed on {len(failed)} of {len(rows)} target(s): {failed[0].status_message}"
            )
        await session.execute(
            plain_update(Action)
            .where(Action.id == run.action_id, Action.status == ActionStatus.IN_PROGRESS)
            .values(
                status=status,
                status_reason_code=(
                    ReasonCode.FAILED if status == ActionStatus.FAILED else ReasonCode.COMPLETED
                ),
                status_message=message,
                completed_at=now,
                updated_at=now,
            )
        )
        action = (
            await session.execute(
                select(Action.type, Action.resource_type, Action.resource_id, Action.pipeline_id,
                       Action.started_at)
                .where(Action.id == run.action_id)
            )
        ).one()
        event = ActionFinished(
            action_id=run.action_id,
            status=status.value,
            action_type=action.type,
            resource_type=action.resource_type,
            resource_id=action.resource_id,
            pipeline_id=action.pipeline_id,
            ran=not run.stop.is_set(),
        )
        await apply_outcome(session, event)
    ACTIONS_FINISHED.labels(action.resource_type, action.type, status.value).inc()
    if action.started_at is not None:
        ACTION_DURATION.labels(action.resource_type, action.type).observe(
            max(0.0, (now - action.started_at).total_seconds())
        )
    await run.bus.publish(action_topic(run.action_id))
    # Heard in the background, in order: the status change, then the finish.
    notify_state_changed(run.database, run.settings,
                         ActionStateChanged(run.action_id, status.value))
    notify_finished(run.database, run.settings, event)
    return status.value

"""Recording what happened to steps and targets: started, completed, failed or
skipped, each change queued on the action's state writer."""

from __future__ import annotations

from typing import Any

from app.actions.models import FINISHED, ActionStatus, ReasonCode
from app.core.database import utcnow
from workers.engine.logs import Redactor, StepLog
from workers.engine.run import ActionRun, StepSpec


async def set_target(run: ActionRun, target_id: int, **values: Any) -> None:
    run.state.target(target_id, updated_at=utcnow(), **values)


async def set_step(run: ActionRun, step_id: int, **values: Any) -> None:
    run.state.step(step_id, updated_at=utcnow(), **values)


async def start_step(run: ActionRun, target_id: int, step: StepSpec) -> None:
    now = utcnow()
    run.state.step(step.id, status=ActionStatus.IN_PROGRESS,
                   status_reason_code=ReasonCode.IN_PROGRESS, started_at=now, updated_at=now)
    run.state.target(target_id, current_step_order=step.order, updated_at=now)


async def fail_target(
    run: ActionRun, target_id: int, steps: list[StepSpec], message: str, *, log_to: int | None
) -> None:
    """Fail a target: the step that was running (or about to) fails, later ones skip."""
    now = utcnow()
    for step in steps:
        if step.status in FINISHED:
            continue
        if step.id == log_to:
            values: dict[str, Any] = {
                "status": ActionStatus.FAILED,
                "status_reason_code": ReasonCode.FAILED,
                "status_message": message,
                "completed_at": now,
            }
        else:
            values = {
                "status": ActionStatus.SKIPPED,
                "status_reason_code": ReasonCode.SKIPPED,
                "completed_at": now,
            }
        if not step.left_running:
            values["remote_process"] = None
        step.status = values["status"]
        run.state.step(step.id, updated_at=now, **values)
    run.state.target(target_id, status=ActionStatus.FAILED, status_reason_code=ReasonCode.FAILED,
                     status_message=message, completed_at=now, updated_at=now)


async def record_outcome(
    log: StepLog, step: StepSpec, failure: str | None, exit_code: int | None
) -> None:
    """The step's terminal log record and status, stored together."""
    await log.flush(
        final=True,
        step_values={
            "exit_code": exit_code,
            "completed_at": utcnow(),
            "status": ActionStatus.FAILED if failure else ActionStatus.COMPLETED,
            "status_reason_code": ReasonCode.FAILED if failure else ReasonCode.COMPLETED,
            "status_message": failure,
            **({} if step.left_running else {"remote_process": None}),
        },
    )
    step.status = ActionStatus.FAILED if failure else ActionStatus.COMPLETED


async def _log_message(run: ActionRun, step_id: int, message: str) -> None:
    async with StepLog(run.state, step_id, Redactor(())) as log:
        await log.write(message + "\n")
        await log.flush(final=True)


async def fail_target_logged(
    run: ActionRun, target_id: int, steps: list[StepSpec], reason: str,
    current: StepSpec | None, first_open: int | None,
) -> None:
    """Fail the target at the step that ran; when none did, at the first open step with
    the reason in its log, where users look."""
    step_id = current.id if current is not None else first_open
    if current is None and step_id is not None:
        await set_step(run, step_id, started_at=utcnow())
        await _log_message(run, step_id, reason)
    await fail_target(run, target_id, steps, reason, log_to=step_id)

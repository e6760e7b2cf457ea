"""Taking an action for this worker (within its pipeline's concurrency) and keeping it:
the heartbeat that proves the worker alive and notices cancels, time limits and reaping."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.actions.bus import action_topic
from app.actions.listeners import ActionStateChanged, notify_state_changed
from app.actions.models import Action, ActionStatus, Pipeline, ReasonCode
from app.actions.repository import mark_unstarted_failed
from app.core.database import utcnow
from app.core.logging import request_id_var
from workers.engine.run import CLAIMABLE, SLOT_POLL_SECONDS, ActionRun, plain_update

logger = logging.getLogger(__name__)


async def claim_action(run: ActionRun) -> bool:
    """Take the action for this worker; waits while its pipeline runs its maximum. From
    the first read on, what runs logs under the request id that started the action
    (`request_id_var`, reset by the caller)."""
    marked_waiting = False
    loop = asyncio.get_running_loop()
    last_beat = loop.time()
    while True:
        # A waiting action is held by this worker: it heartbeats like a running one, so
        # that the sweep re-sends it if this worker dies while it waits.
        beat = loop.time() - last_beat >= run.settings.action_heartbeat_seconds
        claimed, waiting, request_id = await _try_claim(
            run, mark_waiting=not marked_waiting, beat=beat)
        if request_id:
            request_id_var.set(request_id)
        last_beat = loop.time() if beat else last_beat
        await run.bus.publish(action_topic(run.action_id))
        if claimed or (waiting and not marked_waiting):
            notify_state_changed(run.database, run.settings, ActionStateChanged(
                run.action_id,
                ActionStatus.IN_PROGRESS.value if claimed else ActionStatus.WAITING.value))
        marked_waiting = marked_waiting or waiting
        if claimed or not waiting:
            return claimed
        await asyncio.sleep(SLOT_POLL_SECONDS)


async def _try_claim(
    run: ActionRun, *, mark_waiting: bool, beat: bool = False
) -> tuple[bool, bool, str | None]:
    """(claimed, still waiting for a pipeline slot, the request id that started it)."""
    now = utcnow()
    async with run.database.transaction() as session:
        # The request id comes with this read: a transaction of its own before the claim
        # cost a deploy to one server 2 to 4 ms.
        pipeline = (
            await session.execute(
                select(Action.triggered_from, Pipeline.id, Pipeline.max_parallel_actions)
                .outerjoin(Pipeline, Action.pipeline_id == Pipeline.id)
                .where(Action.id == run.action_id)
            )
        ).first()
        if pipeline is None:
            return False, False, None
        request_id = (pipeline.triggered_from or {}).get("request_id")
        request_id = str(request_id) if request_id else None
        conditions = [
            Action.id == run.action_id,
            Action.status.in_(CLAIMABLE),
            Action.cancel_requested_at.is_(None),
        ]
        if pipeline.id is not None and pipeline.max_parallel_actions > 0:
            if session.get_bind().dialect.name == "postgresql":
                # Serialises claims on this pipeline across workers (see slots.py).
                await session.execute(
                    select(Pipeline.id).where(Pipeline.id == pipeline.id).with_for_update()
                )
            running, earlier = aliased(Action), aliased(Action)
            in_use = (
                select(func.count())
                .select_from(running)
                .where(running.pipeline_id == pipeline.id,
                       running.status == ActionStatus.IN_PROGRESS)
                .scalar_subquery()
            )
            # Its older actions waiting for the pipeline go first: whichever worker polls
            # first, a deploy asked for later never overtakes one asked for earlier. Only
            # those a worker holds (WAITING): one still queued for a worker could wait
            # forever behind juniors holding every worker process (see slots.py).
            ahead = (
                select(func.count())
                .select_from(earlier)
                .where(earlier.pipeline_id == pipeline.id, earlier.id < run.action_id,
                       earlier.status == ActionStatus.WAITING,
                       earlier.cancel_requested_at.is_(None))
                .scalar_subquery()
            )
            conditions.append(in_use + ahead < pipeline.max_parallel_actions)
        result = await session.execute(
            plain_update(Action)
            .where(*conditions)
            .values(
                status=ActionStatus.IN_PROGRESS,
                status_reason_code=ReasonCode.IN_PROGRESS,
                status_message=None,
                worker_id=run.worker_id,
                heartbeat_at=now,
                started_at=now,
                updated_at=now,
            )
        )
        if result.rowcount:  # type: ignore[attr-defined]
            return True, False, request_id
        action = await session.get(Action, run.action_id)
        if action is None:
            return False, False, request_id
        if action.status in CLAIMABLE and action.cancel_requested_at is None:
            if mark_waiting:
                action.status = ActionStatus.WAITING
                action.status_reason_code = ReasonCode.WAITING_CONCURRENCY_PIPELINE
            if mark_waiting or beat:
                action.worker_id = run.worker_id
                action.heartbeat_at = now
            return False, True, request_id
        # Redelivered after its worker died (acks_late): never run steps twice;
        # fail it now if nobody is heartbeating it any more.
        stale = now - timedelta(seconds=run.settings.action_stale_seconds)
        if action.status == ActionStatus.IN_PROGRESS and (
            action.heartbeat_at is None or action.heartbeat_at < stale
        ):
            await mark_unstarted_failed(
                session, run.action_id, "The worker running this action stopped."
            )
        return False, False, request_id


async def heartbeat(run: ActionRun) -> None:
    """Proves this worker is alive; notices cancel requests, the time limit and reaping."""
    interval = min(run.settings.action_heartbeat_seconds, 1.0)
    beat_every = run.settings.action_heartbeat_seconds
    loop = asyncio.get_running_loop()
    last_beat = loop.time()
    while True:
        await asyncio.sleep(interval)
        now = utcnow()
        beat = loop.time() - last_beat >= beat_every
        try:
            async with run.database.transaction() as session:
                row = (
                    await session.execute(
                        select(Action.status, Action.cancel_requested_at, Action.started_at,
                               Action.time_limit_seconds, Action.worker_id)
                        .where(Action.id == run.action_id)
                    )
                ).one()
                if beat:
                    # The action's row only: its targets' rows belong to the state writer,
                    # which updates many of them per transaction in its own order. A beat
                    # that also updated them queued behind the writer and deadlocked with
                    # it (500 targets), and the reaper then failed a live action.
                    await session.execute(
                        plain_update(Action)
                        .where(Action.id == run.action_id, Action.worker_id == run.worker_id)
                        .values(heartbeat_at=now)
                    )
        except Exception:
            # A failed beat (a dropped connection, a failover) is retried a second later:
            # ending this task would get a live action reaped.
            logger.warning("action %s: heartbeat failed, retrying", run.action_id,
                           exc_info=True)
            continue
        if beat:
            last_beat = loop.time()
        limit = row.time_limit_seconds or run.settings.action_time_limit_seconds
        if row.status != ActionStatus.IN_PROGRESS or row.worker_id != run.worker_id:
            run.request_stop("The action was finished by the reaper.")
        elif row.cancel_requested_at is not None:
            run.request_stop("Cancelled by user.")
        elif row.started_at is not None and now - row.started_at > timedelta(seconds=limit):
            run.request_stop(f"The action exceeded its time limit of {limit} seconds.")

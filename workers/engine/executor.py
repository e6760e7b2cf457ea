"""Runs one action: claim it, plan its targets, run them concurrently (each target's
steps in order over SSH), then finish it.

The stages live in modules named after them: `claim` (taking the action, heartbeat),
`plans` (what each target needs), `slots` (server concurrency), `target_run`,
`ssh_session`, `remote_process`, `step_runners` (`step_chain`: scripts in a row in one
session), `outcomes`, `writer` (batched state
writes) and `finish`. State lives in the database and is updated by id in short
transactions; no ORM object is held across an SSH run. The same function runs in a Celery
worker and in the API process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.actions import listeners
from app.actions.bus import SignalBus, get_bus
from app.actions.repository import mark_unstarted_failed
from app.core.database import Database
from app.core.logging import request_id_var
from app.core.settings import Settings
from workers.engine.claim import claim_action, heartbeat
from workers.engine.finish import finish
from workers.engine.plans import build_contexts, load_plans
from workers.engine.run import ActionRun, default_worker_id
from workers.engine.slots import claim_slots
from workers.engine.target_run import run_target
from workers.engine.writer import StateWriter

__all__ = ["default_worker_id", "run_action"]

logger = logging.getLogger(__name__)

# How long a worker waits, once the action is finished, for its notices (outgoing hooks)
# to be heard: a Celery task's event loop runs only while a task does.
NOTICES_DRAIN_SECONDS = 60.0


async def run_action(
    database: Database,
    action_id: int,
    *,
    settings: Settings | None = None,
    bus: SignalBus | None = None,
    worker_id: str | None = None,
) -> str | None:
    """Execute a pending action to completion; returns its final status (None: not run)."""
    settings = settings or database.settings
    run = ActionRun(
        database=database,
        settings=settings,
        bus=bus or get_bus(),
        action_id=action_id,
        worker_id=worker_id or default_worker_id(),
    )
    # The request that started the action, once `claim_action` has read it.
    token = request_id_var.set(f"action-{action_id}")
    try:
        status = await _run_claimed(run)
        if status is not None and not await listeners.drain(
            action_id, seconds=NOTICES_DRAIN_SECONDS
        ):
            logger.warning("action %s: its outgoing notices are still being sent", action_id)
        return status
    finally:
        request_id_var.reset(token)


async def _run_claimed(run: ActionRun) -> str | None:
    database, action_id = run.database, run.action_id
    if not await claim_action(run):
        return None
    beating = asyncio.create_task(heartbeat(run))
    try:
        targets, plans = await load_plans(run)
        claimed = await claim_slots(run, [t for t in targets if plans[t.id].reachable])
        async with StateWriter(
            database, run.bus, tick=run.settings.engine_write_interval_seconds
        ) as writer:
            run.writer = writer
            # The targets connect while their steps' parameters are read (a connection is
            # most of a target's time before its first step: 40 ms of 60 at one server);
            # no step starts before all of them are read (`build_contexts`), since the
            # first targets' steps slowed the reads down at 10 servers.
            await asyncio.gather(
                build_contexts(run, targets, plans),
                *(run_target(run, t.id, t.server_id, t.max_parallel_actions, plans[t.id],
                             claimed=t.id in claimed)
                  for t in targets),
            )
    except BaseException:
        logger.exception("action %s crashed in the engine", action_id)
        async with database.transaction() as session:
            await mark_unstarted_failed(session, action_id, "The engine failed unexpectedly.")
        raise
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
    return await finish(run)

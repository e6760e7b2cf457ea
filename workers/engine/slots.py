"""Concurrency slots: a server's `max_parallel_actions`, enforced across every worker
through the database, and this process's bound on concurrent SSH sessions.

A slot is a target in progress on the server. Claiming one is a single conditional UPDATE
(count below the limit -> in progress); on PostgreSQL the server's lock row is held
FOR UPDATE around it so two workers cannot both see the last free slot. SQLite runs one
writer at a time, which makes the single statement atomic on its own.

Waiting targets take slots in the order they were created: the count includes the
server's older targets not started yet whose action a worker holds (`_taken`), so a
deploy asked for later never overtakes one asked for earlier (which would leave the older
commit live), whichever worker polls first. An action still queued for a worker holds no
place in that line: its waiting juniors may hold every worker process, and it would then
never get one (the broker hands actions out in the order they were sent, which two
requests committing at once, or a re-sent message, can invert). Nor does an action
waiting for its pipeline's turn, or one whose cancel was asked for.

An action's targets first claim their slots together (`claim_slots`: one transaction per
`CLAIM_BATCH` targets, not one per target: at 100 servers the per-target claims were a
sixth of the worker's CPU); a target whose server had no free slot then waits on its own
(`wait_for_slot`).

Then one of this worker process's SSH sessions (`session_limit`); a target queued for one
may connect while it waits (`ahead_limit`, see `target_run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.actions.models import Action, ActionStatus, ActionTarget, ReasonCode, ServerSlotLock
from app.core.database import utcnow
from app.core.settings import Settings
from workers.engine.run import OPEN, SLOT_POLL_SECONDS, ActionRun, plain_update


def _taken(server_id: Any, target_id: Any) -> Any:
    """How many of the server's slots count against target `target_id`: the targets in
    progress there, and its older targets not started yet whose action a worker holds
    (both arguments may be columns of the statement this is part of, for a batch)."""
    busy, older = aliased(ActionTarget), aliased(ActionTarget)
    in_use = (
        select(func.count())
        .select_from(busy)
        .where(busy.server_id == server_id, busy.status == ActionStatus.IN_PROGRESS)
        .scalar_subquery()
    )
    # Whether an older target's action is live, as a scalar subquery per older target:
    # PostgreSQL flattens a join or EXISTS here into a loop over the live action's targets
    # (by action id) for every target claimed, N x N rows read for a batch of N.
    live = (
        select(and_(Action.status == ActionStatus.IN_PROGRESS,
                    Action.cancel_requested_at.is_(None)))
        .where(Action.id == older.action_id)
        .scalar_subquery()
    )
    ahead = (
        select(func.count())
        .select_from(older)
        .where(older.server_id == server_id, older.id < target_id, older.status.in_(OPEN),
               live)
        .scalar_subquery()
    )
    return in_use + ahead


async def try_claim(session: AsyncSession, target_id: int, server_id: int, limit: int) -> bool:
    """Move a pending/waiting target to in-progress if its server has a free slot."""
    if limit > 0 and session.get_bind().dialect.name == "postgresql":
        await session.execute(
            pg_insert(ServerSlotLock).values(server_id=server_id).on_conflict_do_nothing()
        )
        await session.execute(
            select(ServerSlotLock.server_id)
            .where(ServerSlotLock.server_id == server_id)
            .with_for_update()
        )
    now = utcnow()
    conditions = [ActionTarget.id == target_id, ActionTarget.status.in_(OPEN)]
    if limit > 0:
        conditions.append(_taken(server_id, target_id) < limit)
    result = await session.execute(
        update(ActionTarget)
        .where(and_(*conditions))
        .values(_in_progress(now))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _in_progress(now: datetime) -> dict[str, Any]:
    """What a claimed slot writes on its target (one claim or a batch of them)."""
    return {"status": ActionStatus.IN_PROGRESS, "status_reason_code": ReasonCode.IN_PROGRESS,
            "status_message": None, "started_at": now, "heartbeat_at": now,
            "updated_at": now}


CLAIM_BATCH = 500  # targets per claiming transaction (bounds the statements' parameters)


async def claim_slots(run: ActionRun, targets: Sequence[Any]) -> set[int]:
    """Claim the slots of the action's targets (`id`, `server_id`, `max_parallel_actions`)
    in a few transactions; returns the ids of the targets now in progress. Only the first
    target of each server takes part: the conditional UPDATE counts a server's targets in
    progress as they were before the statement, so two of one server in one statement
    could both pass the count. The others, and those whose server was busy, wait in
    `wait_for_slot`."""
    servers: dict[int, Any] = {}
    for target in targets:
        if target.max_parallel_actions > 0:
            servers.setdefault(target.server_id, target)
    batch = sorted(servers.values(), key=lambda t: t.server_id)
    claimed: set[int] = set()
    for start in range(0, len(batch), CLAIM_BATCH):
        part = batch[start : start + CLAIM_BATCH]
        async with run.database.transaction() as session:
            claimed.update(await _claim_many(session, part))
    return claimed


async def _claim_many(session: AsyncSession, targets: Sequence[Any]) -> list[int]:
    server_ids = [t.server_id for t in targets]
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            pg_insert(ServerSlotLock)
            .values([{"server_id": server_id} for server_id in server_ids])
            .on_conflict_do_nothing()
        )
        # Locked in server order, as any other batch locks them: no deadlock between two.
        await session.execute(
            select(ServerSlotLock.server_id)
            .where(ServerSlotLock.server_id.in_(server_ids))
            .order_by(ServerSlotLock.server_id)
            .with_for_update()
        )
    now = utcnow()
    result = await session.execute(
        update(ActionTarget)
        .where(
            ActionTarget.id.in_([t.id for t in targets]),
            ActionTarget.status.in_(OPEN),
            _taken(ActionTarget.server_id, ActionTarget.id) < ActionTarget.max_parallel_actions,
        )
        .values(_in_progress(now))
        .returning(ActionTarget.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars())


# Per-process bounds, shared by every action this worker runs: SSH sessions at once, and
# connections opened for targets still queued for one of those sessions. One pair per
# event loop (a Celery task's loop ends with it) and per setting.
_limits_of: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[int, int], tuple[asyncio.Semaphore, asyncio.Semaphore]]
] = weakref.WeakKeyDictionary()


def _limits(settings: Settings) -> tuple[asyncio.Semaphore, asyncio.Semaphore]:
    key = (settings.worker_max_parallel_targets, settings.worker_connections_ahead)
    limits = _limits_of.setdefault(asyncio.get_running_loop(), {})
    if key not in limits:
        limits[key] = (asyncio.Semaphore(key[0]), asyncio.Semaphore(max(key[1], 1)))
    return limits[key]


def session_limit(settings: Settings) -> asyncio.Semaphore:
    return _limits(settings)[0]


def ahead_limit(settings: Settings) -> asyncio.Semaphore:
    """Held while a queued target connects and waits for its session (`session_limit`)."""
    return _limits(settings)[1]


async def wait_for_slot(
    run: ActionRun, target_id: int, server_id: int, limit: int, *, claimed: bool = False
) -> bool:
    """True once the target holds a slot on its server (`claimed`: `claim_slots` took it),
    False when the action stopped first."""
    if claimed:
        return True
    if limit <= 0:
        # No limit on the server: nothing to count across workers (the action's claim
        # already made this worker the only one running its targets).
        now = utcnow()
        run.state.target(target_id, status=ActionStatus.IN_PROGRESS,
                         status_reason_code=ReasonCode.IN_PROGRESS, status_message=None,
                         started_at=now, heartbeat_at=now, updated_at=now)
        return True
    marked_waiting = False
    while not run.stop.is_set():
        async with run.database.transaction() as session:
            if await try_claim(session, target_id, server_id, limit):
                break
        if not marked_waiting:
            marked_waiting = True
            # Straight to the database (not through the writer): the claim that ends the
            # wait is its own transaction and must not be overwritten by this later.
            async with run.database.transaction() as session:
                await session.execute(
                    plain_update(ActionTarget)
                    .where(ActionTarget.id == target_id,
                           ActionTarget.status != ActionStatus.IN_PROGRESS)
                    .values(status=ActionStatus.WAITING,
                            status_reason_code=ReasonCode.WAITING_CONCURRENCY_TARGET,
                            updated_at=utcnow())
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.stop.wait(), SLOT_POLL_SECONDS)
    else:
        return False
    return True

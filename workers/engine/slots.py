"""Concurrency slots: a server's `max_parallel_actions`, enforced across every worker
through the database, and this process's bound on concurrent SSH sessions.

A slot is a target in progress on the server. Claiming one is a single conditional UPDATE
(count below the limit -> in progress); on PostgreSQL the server's lock row is held
FOR UPDATE around it so two workers cannot both see the last free slot. SQLite runs one
writer at a time, which makes the single statement atomic on its own.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.actions.models import ActionStatus, ActionTarget, ReasonCode, ServerSlotLock
from app.core.database import utcnow
from app.core.settings import Settings
from workers.engine.run import SLOT_POLL_SECONDS, ActionRun, plain_update


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
    busy = aliased(ActionTarget)
    in_use = (
        select(func.count())
        .select_from(busy)
        .where(busy.server_id == server_id, busy.status == ActionStatus.IN_PROGRESS)
        .scalar_subquery()
    )
    now = utcnow()
    conditions = [
        ActionTarget.id == target_id,
        ActionTarget.status.in_([ActionStatus.PENDING, ActionStatus.WAITING, ActionStatus.QUEUED]),
    ]
    if limit > 0:
        conditions.append(in_use < limit)
    result = await session.execute(
        update(ActionTarget)
        .where(and_(*conditions))
        .values(
            status=ActionStatus.IN_PROGRESS,
            status_reason_code=ReasonCode.IN_PROGRESS,
            status_message=None,
            started_at=now,
            heartbeat_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# Per-process bound on concurrent SSH sessions, shared by every action this worker runs.
_session_limits: dict[int, asyncio.Semaphore] = {}


def session_limit(settings: Settings) -> asyncio.Semaphore:
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _session_limits:
        _session_limits[loop_id] = asyncio.Semaphore(settings.worker_max_parallel_targets)
    return _session_limits[loop_id]


async def wait_for_slot(run: ActionRun, target_id: int, server_id: int, limit: int) -> bool:
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

"""A server's `max_parallel_actions`, enforced across every worker through the database.

A slot is a target in progress on the server. Claiming one is a single conditional UPDATE
(count below the limit -> in progress); on PostgreSQL the server's lock row is held
FOR UPDATE around it so two workers cannot both see the last free slot. SQLite runs one
writer at a time, which makes the single statement atomic on its own.
"""

from __future__ import annotations

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.actions.models import ActionStatus, ActionTarget, ReasonCode, ServerSlotLock
from app.core.database import utcnow


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

"""Fails actions whose worker vanished, and ones no worker ever picked up.

A running action's worker heartbeats it; silence longer than `action_stale_seconds`
means the worker died (killed, OOM, machine lost). Finishing the action's targets frees
their concurrency slots, since a slot is a target in progress.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from app.actions.bus import SignalBus, action_topic, get_bus
from app.actions.models import Action, ActionStatus
from app.actions.repository import mark_unstarted_failed
from app.core.database import Database, utcnow
from app.core.settings import Settings

logger = logging.getLogger(__name__)

WORKER_LOST = (
    "The worker running this action stopped responding (no heartbeat for {seconds:g} "
    "seconds); the action was marked failed. Retry it to run what failed."
)
NEVER_STARTED = "No worker picked this action up within {seconds:g} seconds."


async def reap(
    database: Database, settings: Settings | None = None, bus: SignalBus | None = None
) -> list[int]:
    settings = settings or database.settings
    bus = bus or get_bus()
    now = utcnow()
    stale = now - timedelta(seconds=settings.action_stale_seconds)
    unclaimed = now - timedelta(seconds=settings.action_queue_timeout_seconds)
    async with database.transaction() as session:
        lost = (
            await session.scalars(
                select(Action.id).where(
                    Action.status == ActionStatus.IN_PROGRESS,
                    or_(
                        Action.heartbeat_at < stale,
                        and_(Action.heartbeat_at.is_(None), Action.started_at < stale),
                    ),
                )
            )
        ).all()
        orphaned = (
            await session.scalars(
                select(Action.id).where(
                    Action.status.in_(
                        [ActionStatus.PENDING, ActionStatus.QUEUED, ActionStatus.WAITING]
                    ),
                    Action.created_at < unclaimed,
                )
            )
        ).all()
        for action_id in lost:
            await mark_unstarted_failed(
                session, action_id, WORKER_LOST.format(seconds=settings.action_stale_seconds)
            )
        for action_id in orphaned:
            await mark_unstarted_failed(
                session, action_id,
                NEVER_STARTED.format(seconds=settings.action_queue_timeout_seconds),
            )
    reaped = [*lost, *orphaned]
    for action_id in reaped:
        logger.warning("reaped action %s", action_id)
        await bus.publish(action_topic(action_id))
    return reaped


async def pending_unclaimed(database: Database, older_than: float) -> list[int]:
    """Pending actions nobody claimed (e.g. the API restarted before running them)."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    async with database.transaction() as session:
        return list(
            (
                await session.scalars(
                    select(Action.id).where(
                        Action.status.in_([ActionStatus.PENDING, ActionStatus.QUEUED]),
                        Action.cancel_requested_at.is_(None),
                        Action.created_at < cutoff,
                    )
                )
            ).all()
        )


async def unclaimed_since(database: Database, older_than: float) -> list[tuple[int, datetime]]:
    """(id, created_at) of pending actions no worker claimed, created before the cutoff."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    async with database.transaction() as session:
        rows = (
            await session.execute(
                select(Action.id, Action.created_at).where(
                    Action.status.in_([ActionStatus.PENDING, ActionStatus.QUEUED]),
                    Action.cancel_requested_at.is_(None),
                    Action.created_at < cutoff,
                ).order_by(Action.id)
            )
        ).all()
    return [(row.id, row.created_at) for row in rows]


async def abandoned_waiting(database: Database, settings: Settings) -> list[int]:
    """Actions waiting for a pipeline slot whose worker stopped heartbeating: their message
    died with that worker (unacknowledged), so they must be sent again."""
    stale = utcnow() - timedelta(seconds=settings.action_stale_seconds)
    async with database.transaction() as session:
        return list(
            (
                await session.scalars(
                    select(Action.id).where(
                        Action.status == ActionStatus.WAITING,
                        Action.cancel_requested_at.is_(None),
                        or_(Action.heartbeat_at < stale,
                            and_(Action.heartbeat_at.is_(None), Action.created_at < stale)),
                    ).order_by(Action.id)
                )
            ).all()
        )


async def fail_unclaimed(
    database: Database, action_ids: list[int], message: str, bus: SignalBus | None = None
) -> list[int]:
    """Fail these actions if they are still unclaimed: one a worker claimed meanwhile is
    left alone (its row is locked against that claim while this decides)."""
    if not action_ids:
        return []
    async with database.transaction() as session:
        statement = select(Action.id).where(
            Action.id.in_(action_ids),
            Action.status.in_([ActionStatus.PENDING, ActionStatus.QUEUED]),
        )
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        failed = list((await session.scalars(statement)).all())
        for action_id in failed:
            await mark_unstarted_failed(session, action_id, message)
    bus = bus or get_bus()
    for action_id in failed:
        logger.warning("action %s failed: %s", action_id, message)
        await bus.publish(action_topic(action_id))
    return failed

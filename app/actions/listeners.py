"""Who hears that an action finished, without the engine knowing them.

Two kinds, because readers wait on the action's status: an outcome listener changes stored
state that follows the action (a server's status after a provision, a deleted record) and
runs inside the transaction that stores the final status, so whoever sees the action finished
also sees its outcome. A finish listener tells the outside world (outgoing hooks) and runs
after that commit, holding no transaction while it talks to the network."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import Database
from app.core.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionFinished:
    action_id: int
    status: str  # "completed" or "failed"
    action_type: str
    resource_type: str
    resource_id: int
    pipeline_id: int | None
    # False when its steps did not all run to their end: cancelled (before or while it ran),
    # stopped by its time limit, or its worker lost. A delete then keeps the record.
    ran: bool = True


Listener = Callable[[Database, Settings, ActionFinished], Awaitable[None]]
OutcomeListener = Callable[[AsyncSession, ActionFinished], Awaitable[None]]

_listeners: list[Listener] = []
_outcome_listeners: list[OutcomeListener] = []


def register_outcome_listener(listener: OutcomeListener) -> None:
    if listener not in _outcome_listeners:
        _outcome_listeners.append(listener)


async def apply_outcome(session: AsyncSession, event: ActionFinished) -> None:
    """Run the outcome listeners in the caller's transaction, each in a savepoint: one that
    fails is logged and undone, and the action's final status still commits."""
    for listener in list(_outcome_listeners):
        try:
            async with session.begin_nested():
                await listener(session, event)
        except Exception:
            logger.exception("action %s: an outcome listener failed", event.action_id)


def register_finish_listener(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


async def notify_finished(database: Database, settings: Settings, event: ActionFinished) -> None:
    for listener in list(_listeners):
        try:
            await listener(database, settings, event)
        except Exception:
            # The action's outcome is already stored; a listener's failure must not change it.
            logger.exception("action %s: a finish listener failed", event.action_id)

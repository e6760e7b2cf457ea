"""Who hears that an action finished (outgoing hooks, for one), without the engine knowing
them: listeners register here and are called after the final status is committed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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


Listener = Callable[[Database, Settings, ActionFinished], Awaitable[None]]

_listeners: list[Listener] = []


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

"""Hands a committed action to whatever runs actions in this process.

The one place in `app/` that knows about Celery: with REDIS_URL set, actions go to the
`actions` queue; otherwise the in-process runner started by the API executes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Dispatcher = Callable[[int], Awaitable[None]]

_dispatcher: Dispatcher | None = None


def set_dispatcher(dispatcher: Dispatcher | None) -> None:
    global _dispatcher
    _dispatcher = dispatcher


async def dispatch_action(action_id: int) -> None:
    if _dispatcher is None:
        # The reaper fails actions nobody picks up; it also logs why.
        logger.error("action %s created but no runner is configured in this process", action_id)
        return
    await _dispatcher(action_id)


async def celery_dispatch(action_id: int) -> None:
    from workers.tasks import run_action  # Celery loads only where it is used

    # apply_async talks to the broker synchronously; keep the event loop free.
    await asyncio.to_thread(run_action.apply_async, args=[action_id], queue="actions")

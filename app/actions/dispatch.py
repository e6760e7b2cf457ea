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
    """Send to the broker, retried briefly; what still fails is left to the workers' sweep,
    which re-sends it, or fails it naming the broker once ACTION_BROKER_TIMEOUT_SECONDS
    pass."""
    from app.core.settings import get_settings
    from workers.sending import BrokerUnavailable, send_with_retries  # Celery loads here only

    settings = get_settings()
    try:
        # The broker client is synchronous; keep the event loop free.
        await asyncio.to_thread(
            send_with_retries, action_id, settings.action_queue_timeout_seconds,
            settings.action_dispatch_attempts,
        )
    except BrokerUnavailable as exc:
        logger.error(
            "action %s could not be handed to the broker (%s); the workers' sweep will "
            "re-send it", action_id, exc,
        )

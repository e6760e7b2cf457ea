"""How a committed action leaves the API: the port to whatever runs actions.

Two runners exist. With REDIS_URL set, `celery_dispatch` hands the action to the workers'
broker by task name (the API never imports the workers). Without it, the launcher plugs
an in-process runner into `create_app` through `RunnerFactory`, and `dispatch_action`
submits to it. The workers import the names they share with the sender from here.

Next to each `run_action` message the broker keeps a record `devopness:dispatched:<id>`,
written after the message. Both live in the same Redis, so they survive or vanish
together: a pending action without a record is one the broker never got (Redis was down
at dispatch) or lost (restarted without its data), and the workers' sweep sends it again.
A message sent twice is harmless: the claim in the database lets one run only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import redis

from app.actions.listeners import ActionStateChanged, notify_state_changed
from app.actions.models import ActionStatus
from app.core.database import Database
from app.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from celery import Celery

logger = logging.getLogger(__name__)

RUN_ACTION = "devopness.run_action"
ACTIONS_QUEUE = "actions"
DISPATCH_RECORD_PREFIX = "devopness:dispatched:"
# Publishing gives up quickly: the caller retries, and the sweep re-sends what is left.
_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                  "interval_max": 0.2}

Dispatcher = Callable[[int], Awaitable[None]]


class ActionRunner(Protocol):
    """Runs actions inside this process (the embedded mode's runner)."""

    async def submit(self, action_id: int) -> None: ...

    def start(self) -> None: ...

    async def shutdown(self) -> None: ...


RunnerFactory = Callable[[Database, Settings], ActionRunner]


class BrokerUnavailable(Exception):
    """The broker could not be reached; the message was not sent."""


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


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    """The broker connection as both sides use it (the workers' Celery app too)."""
    return {
        # Longer than the longest an action may run (steps included), so a slow action is
        # never redelivered to a second worker while the first still runs it.
        "visibility_timeout": settings.action_time_limit_seconds + 3600,
        # An unreachable broker fails a send quickly; the sweep sends it again later.
        "socket_connect_timeout": 5,
    }


@lru_cache(maxsize=4)
def _producer(url: str) -> Celery:
    from celery import Celery  # loaded by the first send only

    producer = Celery("devopness", broker=url, set_as_current=False)
    producer.conf.broker_transport_options = broker_transport_options(get_settings())
    return producer


def sender() -> Celery:
    """The Celery app this process sends with: built on first use, on REDIS_URL."""
    return _producer(get_settings().redis_url or "memory://")


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def dispatch_records(broker_url: str) -> redis.Redis:
    """Where the broker's records of the messages it holds are kept."""
    return _client(broker_url)


def send(action_id: int, record_seconds: float, celery: Celery | None = None) -> None:
    """Send the action's message by task name, then its record; raises BrokerUnavailable.
    `celery` is the app to send with (default: a sender on REDIS_URL)."""
    celery = celery or sender()
    try:
        celery.send_task(
            RUN_ACTION, args=[action_id], queue=ACTIONS_QUEUE, retry_policy=_PUBLISH_RETRY
        )
        dispatch_records(str(celery.conf.broker_url)).set(
            f"{DISPATCH_RECORD_PREFIX}{action_id}", b"1", ex=max(1, int(record_seconds))
        )
    except Exception as exc:  # kombu and redis-py each raise their own connection errors
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc


def send_with_retries(action_id: int, record_seconds: float, attempts: int) -> None:
    for attempt in range(attempts):
        try:
            send(action_id, record_seconds)
            return
        except BrokerUnavailable:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def celery_dispatcher(database: Database, settings: Settings) -> Dispatcher:
    """`celery_dispatch` that also tells the state listeners the action is queued
    (`action.queued`), from the API process that created it."""

    async def dispatch(action_id: int) -> None:
        notify_state_changed(database, settings,
                             ActionStateChanged(action_id, ActionStatus.PENDING.value))
        await celery_dispatch(action_id)

    return dispatch


async def celery_dispatch(action_id: int) -> None:
    """Send to the broker, retried briefly; what still fails is left to the workers' sweep,
    which re-sends it, or fails it naming the broker once ACTION_BROKER_TIMEOUT_SECONDS
    pass."""
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

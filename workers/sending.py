"""Handing actions to the broker, and remembering in the broker that it holds them.

Next to each `run_action` message the broker keeps a record `devopness:dispatched:<id>`,
written after the message. Both live in the same Redis, so they survive or vanish
together: a pending action without a record is one the broker never got (Redis was
down at dispatch) or lost (restarted without its data), and the workers' sweep sends it
again. A message sent twice is harmless: the claim in the database lets one run only.
"""

from __future__ import annotations

import time
from functools import lru_cache
from urllib.parse import urlsplit

import redis

from workers.celery_app import celery_app

DISPATCH_RECORD_PREFIX = "devopness:dispatched:"
RUN_ACTION = "devopness.run_action"
# Publishing gives up quickly: the caller retries, and the sweep re-sends what is left.
_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                  "interval_max": 0.2}


class BrokerUnavailable(Exception):
    """The broker could not be reached; the message was not sent."""


def broker_name(url: str | None = None) -> str:
    """The broker's address for messages shown to users: no credentials, no database."""
    parts = urlsplit(url or str(celery_app.conf.broker_url or ""))
    return f"Redis at {parts.hostname or 'localhost'}:{parts.port or 6379}"


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def _records() -> redis.Redis:
    return _client(str(celery_app.conf.broker_url))


def send(action_id: int, record_seconds: float) -> None:
    """Send the action's message, then its record; raises BrokerUnavailable."""
    try:
        celery_app.send_task(
            RUN_ACTION, args=[action_id], queue="actions", retry_policy=_PUBLISH_RETRY
        )
        _records().set(
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


def unrecorded(action_ids: list[int]) -> list[int]:
    """The actions among these the broker holds no message for; raises BrokerUnavailable."""
    if not action_ids:
        return []
    try:
        found = _records().mget([f"{DISPATCH_RECORD_PREFIX}{i}" for i in action_ids])
    except redis.RedisError as exc:
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return [i for i, value in zip(action_ids, found, strict=True) if value is None]

"""The workers' side of the broker hand-off (see app/actions/dispatch.py for the records
kept next to each message): re-sending an action from a worker, and finding the pending
actions the broker holds no message for."""

from __future__ import annotations

from urllib.parse import urlsplit

import redis

from app.actions import dispatch
from app.actions.dispatch import DISPATCH_RECORD_PREFIX, BrokerUnavailable
from workers.celery_app import celery_app

__all__ = ["BrokerUnavailable", "broker_name", "send", "unrecorded"]


def broker_name(url: str | None = None) -> str:
    """The broker's address for messages shown to users: no credentials, no database."""
    parts = urlsplit(url or str(celery_app.conf.broker_url or ""))
    return f"Redis at {parts.hostname or 'localhost'}:{parts.port or 6379}"


def send(action_id: int, record_seconds: float) -> None:
    """Send the action's message with this worker's Celery app; raises BrokerUnavailable."""
    dispatch.send(action_id, record_seconds, celery_app)


def unrecorded(action_ids: list[int]) -> list[int]:
    """The actions among these the broker holds no message for; raises BrokerUnavailable."""
    if not action_ids:
        return []
    records = dispatch.dispatch_records(str(celery_app.conf.broker_url))
    try:
        found = records.mget([f"{DISPATCH_RECORD_PREFIX}{i}" for i in action_ids])
    except redis.RedisError as exc:
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return [i for i, value in zip(action_ids, found, strict=True) if value is None]

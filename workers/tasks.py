"""Thin Celery tasks: they take ids and hand them to the engine."""

from __future__ import annotations

from workers.celery_app import celery_app


@celery_app.task(name="devopness.ping")  # type: ignore[untyped-decorator]
def ping() -> str:
    """Liveness probe used by readiness checks: answers when a worker is consuming."""
    return "pong"

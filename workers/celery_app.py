"""The Celery application: broker and result backend from REDIS_URL, a dedicated queue."""

from __future__ import annotations

from celery import Celery

from app.core.settings import get_settings

settings = get_settings()

celery_app = Celery(
    "devopness",
    broker=settings.redis_url or "memory://",
    include=["workers.tasks", "workers.heartbeat"],
)
celery_app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="actions",
    # Longer than the longest step may run, so a slow step is never redelivered mid-run.
    broker_transport_options={"visibility_timeout": 6 * 3600},
    broker_connection_retry_on_startup=True,
    timezone="UTC",
    enable_utc=True,
)

"""The Celery application: broker from REDIS_URL, a dedicated queue, the reaper schedule."""

from __future__ import annotations

from celery import Celery

from app.core.settings import get_settings

settings = get_settings()

celery_app = Celery(
    "devopness",
    broker=settings.redis_url or "memory://",
    include=["workers.tasks", "workers.heartbeat", "workers.sweeper"],
)
celery_app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="actions",
    task_routes={"devopness.run_action": {"queue": "actions"}},
    task_ignore_result=True,
    # Longer than the longest an action may run (steps included), so a slow action is
    # never redelivered to a second worker while the first still runs it.
    broker_transport_options={
        "visibility_timeout": settings.action_time_limit_seconds + 3600,
        # An unreachable broker fails a send quickly; the sweep sends it again later.
        "socket_connect_timeout": 5,
    },
    broker_connection_retry_on_startup=True,
    # A broker outage of any length is waited out: the sweep (workers/sweeper.py) fails
    # the actions it could not hand over, the worker itself keeps reconnecting.
    broker_connection_max_retries=None,
    beat_schedule={
        "reap-actions": {
            "task": "devopness.reap_actions",
            "schedule": settings.action_reaper_interval_seconds,
        }
    },
    timezone="UTC",
    enable_utc=True,
)

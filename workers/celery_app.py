"""The Celery application: broker from REDIS_URL, a dedicated queue, the reaper schedule."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from app.actions.dispatch import ACTIONS_QUEUE, RUN_ACTION, broker_transport_options
from app.core.heap import settle_heap
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
    task_default_queue=ACTIONS_QUEUE,
    task_routes={RUN_ACTION: {"queue": ACTIONS_QUEUE}},
    task_ignore_result=True,
    broker_transport_options=broker_transport_options(settings),
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


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _settle_heap(**_kwargs: Any) -> None:
    # Each forked pool process, once it holds what the parent imported (app/core/heap.py).
    settle_heap()

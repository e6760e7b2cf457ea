"""A worker announces itself in Redis every few seconds; /readyz reads the announcements."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown

from app.core.settings import get_settings
from app.ops.service import WORKER_HEARTBEAT_PREFIX

INTERVAL_SECONDS = 10
TTL_SECONDS = 30

_stop = threading.Event()


def _key() -> str:
    return f"{WORKER_HEARTBEAT_PREFIX}{socket.gethostname()}:{os.getpid()}"


def _beat(url: str) -> None:
    client = redis.Redis.from_url(url)
    while not _stop.is_set():
        # Redis down: readiness reports that on its own, the heartbeat just retries.
        with contextlib.suppress(redis.RedisError):
            client.set(_key(), "alive", ex=TTL_SECONDS)
        _stop.wait(INTERVAL_SECONDS)


@worker_ready.connect  # type: ignore[untyped-decorator]
def _start(**_: Any) -> None:
    url = get_settings().redis_url
    if url:
        threading.Thread(target=_beat, args=(url,), name="heartbeat", daemon=True).start()


@worker_shutdown.connect  # type: ignore[untyped-decorator]
def _stop_beating(**_: Any) -> None:
    _stop.set()
    url = get_settings().redis_url
    if url:
        # Deleted here, before the process exits, so readiness sees the worker gone at once
        # instead of after the key's TTL.
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(url).delete(_key())

"""Every worker sweeps: no action is left where nothing would move it.

Each `ACTION_REAPER_INTERVAL_SECONDS` the sweep (a thread of the worker's main process,
talking to the database directly, so it runs while the broker is down and without beat):
- reaps actions whose worker died and ones nobody picked up (see engine/reaper.py);
- re-sends pending actions the broker holds no message for (see sending.py), once they
  are ACTION_REDISPATCH_AFTER_SECONDS old;
- fails, naming the broker, pending actions it could not hand to the broker for
  ACTION_BROKER_TIMEOUT_SECONDS.
Several workers sweeping at once is safe: the claim in the database runs an action once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from app.actions.bus import RedisBus, SignalBus
from app.core.database import Database, utcnow
from app.core.settings import Settings, get_settings
from workers.engine.reaper import abandoned_waiting, fail_unclaimed, reap, unclaimed_since
from workers.sending import BrokerUnavailable, broker_name, send, unrecorded

logger = logging.getLogger(__name__)

BROKER_DOWN = (
    "The message broker ({broker}) could not be reached for {seconds:g} seconds, so no "
    "worker could be given this action; it did not run. Retry it once the broker is back."
)

_stop = threading.Event()


@dataclass
class BrokerOutage:
    """When this sweeper first failed to reach the broker (monotonic), None while it can:
    an action fails for the broker only once the broker has been gone for the bound, not
    because it was queued long ago and the broker blinked."""

    since: float | None = None

    def failed(self) -> float:
        if self.since is None:
            self.since = time.monotonic()
        return time.monotonic() - self.since


async def sweep_once(
    database: Database, settings: Settings, bus: SignalBus, outage: BrokerOutage
) -> list[int]:
    """One pass; returns the actions it re-sent."""
    await reap(database, settings, bus)
    waiting = await unclaimed_since(database, settings.action_redispatch_after_seconds)
    abandoned = await abandoned_waiting(database, settings)
    if not waiting and not abandoned:
        return []
    created = dict(waiting)
    resent: list[int] = []
    missing = list(created)
    try:
        missing = [*await asyncio.to_thread(unrecorded, missing), *abandoned]
        for action_id in missing:
            await asyncio.to_thread(send, action_id, settings.action_queue_timeout_seconds)
            resent.append(action_id)
            logger.warning("re-sent action %s to the broker", action_id)
        outage.since = None
    except BrokerUnavailable as exc:
        logger.warning("broker unreachable while sweeping: %s", exc)
        if outage.failed() >= settings.action_broker_timeout_seconds:
            unsent = {i: created[i] for i in missing if i not in resent and i in created}
            await _fail_overdue(database, settings, bus, unsent)
    return resent


async def _fail_overdue(
    database: Database, settings: Settings, bus: SignalBus, unsent: dict[int, datetime]
) -> None:
    bound = settings.action_broker_timeout_seconds
    cutoff = utcnow() - timedelta(seconds=bound)
    overdue = [i for i, at in unsent.items() if at < cutoff]
    message = BROKER_DOWN.format(broker=broker_name(), seconds=bound)
    await fail_unclaimed(database, overdue, message, bus)


def _sweep_forever(settings: Settings) -> None:
    from redis.asyncio import Redis

    from app.wiring import register_all

    register_all(settings)

    async def main() -> None:
        database = Database(settings)
        bus = RedisBus(Redis.from_url(settings.redis_url or "", socket_connect_timeout=2))
        outage = BrokerOutage()
        try:
            while not _stop.is_set():
                try:
                    await sweep_once(database, settings, bus, outage)
                except Exception:
                    logger.exception("action sweep failed")
                await asyncio.to_thread(_stop.wait, settings.action_reaper_interval_seconds)
        finally:
            await database.dispose()

    asyncio.run(main())


@worker_ready.connect  # type: ignore[untyped-decorator]
def _start(**_: Any) -> None:
    settings = get_settings()
    if settings.redis_url:
        threading.Thread(
            target=_sweep_forever, args=(settings,), name="action-sweep", daemon=True
        ).start()


@worker_shutdown.connect  # type: ignore[untyped-decorator]
def _stop_sweeping(**_: Any) -> None:
    _stop.set()

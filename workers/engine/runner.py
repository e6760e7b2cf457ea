"""The embedded runner: executes actions as asyncio tasks inside the API process."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.actions.bus import SignalBus, get_bus
from app.actions.listeners import ActionStateChanged, drain, notify_state_changed
from app.actions.models import ActionStatus
from app.core.database import Database
from app.core.settings import Settings
from workers.engine.executor import run_action
from workers.engine.reaper import pending_unclaimed, reap
from workers.engine.run import default_worker_id

logger = logging.getLogger(__name__)

# Pending actions older than this are picked up by the sweep (lost before dispatch).
SWEEP_AFTER_SECONDS = 30.0
SHUTDOWN_NOTICES_SECONDS = 5.0


class InProcessRunner:
    def __init__(self, database: Database, settings: Settings, bus: SignalBus | None = None):
        self.database = database
        self.settings = settings
        self.bus = bus or get_bus()
        self.worker_id = f"{default_worker_id()}:inprocess"
        self.tasks: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None

    async def submit(self, action_id: int) -> None:
        """The API's dispatcher: the action was created and committed (`action.queued`)."""
        notify_state_changed(self.database, self.settings,
                             ActionStateChanged(action_id, ActionStatus.PENDING.value))
        self._submit(action_id)

    def _submit(self, action_id: int) -> None:
        self.start()
        task = asyncio.create_task(self._run(action_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def start(self) -> None:
        """Start the periodic reaper (lazily: test transports skip lifespan events)."""
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap_forever())

    async def _run(self, action_id: int) -> None:
        try:
            await run_action(
                self.database, action_id, settings=self.settings, bus=self.bus,
                worker_id=self.worker_id,
            )
        except Exception:
            logger.exception("action %s failed in the in-process runner", action_id)

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.action_reaper_interval_seconds)
            try:
                await reap(self.database, self.settings, self.bus)
                for action_id in await pending_unclaimed(self.database, SWEEP_AFTER_SECONDS):
                    self._submit(action_id)
            except Exception:
                logger.exception("action reaper failed")

    async def wait_idle(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def shutdown(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for task in list(self.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self.tasks, return_exceptions=True)
        # Notices already given (an action queued, one finished) are still sent, briefly.
        await drain(seconds=SHUTDOWN_NOTICES_SECONDS)

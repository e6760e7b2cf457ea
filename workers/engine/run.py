"""What every stage of one action's run shares: its identity, stop signal and state
writer, the steps it runs, and the failure that ends a target."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from app.actions.bus import SignalBus
from app.actions.models import ActionStatus
from app.core.database import Database
from app.core.settings import Settings
from workers.engine.writer import StateWriter

OPEN = [ActionStatus.PENDING, ActionStatus.QUEUED, ActionStatus.WAITING]
CLAIMABLE = [ActionStatus.PENDING, ActionStatus.QUEUED, ActionStatus.WAITING]
SLOT_POLL_SECONDS = 0.25


def plain_update(model: Any) -> Any:
    # Engine sessions hold no objects: skip the ORM's synchronisation (an extra SELECT).
    return update(model).execution_options(synchronize_session=False)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class StepSpec:
    id: int
    order: int
    command: str
    run_as_user: str | None
    timeout_seconds: int
    status: str
    # ("script" | "python", name) for a built-in step (see app.actions.builtins).
    builtin: tuple[str, str] | None = None
    token: str = field(default_factory=lambda: secrets.token_hex(6))
    # True once a stop of this step could not be confirmed: its `remote_process` record
    # stays, and the next run on the server stops it first.
    left_running: bool = False

    @property
    def local(self) -> bool:
        """A built-in step run by the engine itself, on no server (a cloud instance made)."""
        return self.builtin is not None and self.builtin[0] == "local"


@dataclass
class ActionRun:
    database: Database
    settings: Settings
    bus: SignalBus
    action_id: int
    worker_id: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    stop_reason: str = ""
    writer: StateWriter | None = None
    # Futures of running steps to wake when the action is stopped (see `step_runners`).
    stop_waiters: set[asyncio.Future[None]] = field(default_factory=set)
    # Step results already stored for the whole action (`builtins.results_per_action`).
    stored_results: set[Hashable] = field(default_factory=set)

    @property
    def state(self) -> StateWriter:
        assert self.writer is not None, "the action's state writer is not running"
        return self.writer

    def request_stop(self, reason: str) -> None:
        if not self.stop.is_set():
            self.stop_reason = reason
            self.stop.set()
            for waiter in list(self.stop_waiters):
                if not waiter.done():
                    waiter.set_result(None)


class StepFailed(Exception):
    pass

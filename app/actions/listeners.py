"""Who hears about an action's life, without the engine knowing them.

Three kinds, because readers wait on the action's status and nobody may wait on the
network:

- An outcome listener changes stored state that follows the action (a server's status
  after a provision, a deleted record) and runs inside the transaction that stores the
  final status, so whoever sees the action finished also sees its outcome.
- A state listener hears each change of the action's status: `pending` when the API
  hands the action over (the reference's `action.queued`), `waiting` while its pipeline
  runs its maximum, `in-progress` when a worker claims it (`action.started`), then
  `completed` or `failed`.
- A finish listener hears that the action finished (`action.completed`/`action.failed`).

State and finish listeners tell the outside world (outgoing hooks): they run after the
change has committed, in the background, holding no transaction while they talk to the
network. The notices of one action are heard in the order they were given (a commit
status must end on the final state, not on whichever request came back last); different
actions do not wait for each other. Whoever runs actions drains an action's notices
before it lets go of its event loop (a Celery task's loop only runs while a task does)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import Database, after_commit
from app.core.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionFinished:
    action_id: int
    status: str  # "completed" or "failed"
    action_type: str
    resource_type: str
    resource_id: int
    pipeline_id: int | None
    # False when its steps did not all run to their end: cancelled (before or while it ran),
    # stopped by its time limit, or its worker lost. A delete then keeps the record.
    ran: bool = True


@dataclass(frozen=True)
class ActionStateChanged:
    action_id: int
    # The status the action took: "pending", "waiting", "in-progress", "completed", "failed".
    status: str


Listener = Callable[[Database, Settings, ActionFinished], Awaitable[None]]
StateListener = Callable[[Database, Settings, ActionStateChanged], Awaitable[None]]
OutcomeListener = Callable[[AsyncSession, ActionFinished], Awaitable[None]]

_listeners: list[Listener] = []
_state_listeners: list[StateListener] = []
_outcome_listeners: list[OutcomeListener] = []
# The last notice queued for each action: the next one runs after it.
_chains: dict[int, asyncio.Task[None]] = {}


def register_outcome_listener(listener: OutcomeListener) -> None:
    if listener not in _outcome_listeners:
        _outcome_listeners.append(listener)


async def apply_outcome(session: AsyncSession, event: ActionFinished) -> None:
    """Run the outcome listeners in the caller's transaction, each in a savepoint: one that
    fails is logged and undone, and the action's final status still commits."""
    for listener in list(_outcome_listeners):
        try:
            async with session.begin_nested():
                await listener(session, event)
        except Exception:
            logger.exception("action %s: an outcome listener failed", event.action_id)


def register_finish_listener(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def register_state_listener(listener: StateListener) -> None:
    if listener not in _state_listeners:
        _state_listeners.append(listener)


def notify_state_changed(
    database: Database, settings: Settings, event: ActionStateChanged
) -> None:
    """Queue the state listeners; returns at once. Call after the change has committed."""
    if _state_listeners:
        _enqueue(event.action_id, _run(list(_state_listeners), database, settings, event))


def announce_after_commit(session: AsyncSession, event: ActionFinished) -> None:
    """An action finished outside the engine (cancelled before it started, failed by the
    reaper or a crash): once `session` commits, its state and finish listeners hear the
    final status as they would from the engine (a commit status must not stay pending)."""
    database = session.info.get("database")
    if not isinstance(database, Database):
        return  # a bare session (tests' fixtures): nobody to tell

    async def announce() -> None:
        notify_state_changed(database, database.settings,
                             ActionStateChanged(event.action_id, event.status))
        notify_finished(database, database.settings, event)

    after_commit(session, announce)


def notify_finished(database: Database, settings: Settings, event: ActionFinished) -> None:
    """Queue the finish listeners behind the action's earlier notices; returns at once."""
    if _listeners:
        _enqueue(event.action_id, _run(list(_listeners), database, settings, event))


async def _run(
    listeners: Sequence[Callable[[Database, Settings, Any], Awaitable[None]]],
    database: Database, settings: Settings, event: ActionFinished | ActionStateChanged,
) -> None:
    for listener in listeners:
        try:
            await listener(database, settings, event)
        except Exception:
            # The action's state is already stored; a listener's failure must not change it.
            logger.exception("action %s: a listener failed", event.action_id)


def _enqueue(action_id: int, work: Awaitable[None]) -> None:
    loop = asyncio.get_running_loop()
    previous = _chains.get(action_id)
    if previous is not None and previous.get_loop() is not loop:
        previous = None  # left by another event loop (a test's): nothing to wait for here

    async def in_turn() -> None:
        if previous is not None:
            # Its failures are logged where they happen; a cancelled one lets this go on.
            await asyncio.gather(previous, return_exceptions=True)
        await work

    task = loop.create_task(in_turn())
    _chains[action_id] = task

    def forget(done: asyncio.Task[None]) -> None:
        if _chains.get(action_id) is done:
            del _chains[action_id]

    task.add_done_callback(forget)


async def drain(action_id: int | None = None, *, seconds: float) -> bool:
    """Wait up to `seconds` for the notices of one action (or of all) to be heard;
    False when some are still on their way (they go on in the background)."""
    loop = asyncio.get_running_loop()
    chosen = list(_chains.values()) if action_id is None else [_chains.get(action_id)]
    tasks = [t for t in chosen if t is not None and t.get_loop() is loop]
    if not tasks:
        return True
    _, pending = await asyncio.wait(tasks, timeout=seconds)
    return not pending

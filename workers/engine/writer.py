"""One transaction per tick for the engine's state changes.

An action on 100 servers changes step and target rows and appends log chunks thousands of
times a second at its peak. Each change in its own transaction made the database the
controller's main cost; here they are queued, merged per row (the last value of a column
wins, so a step that starts and finishes within a tick is written once) and committed
together every `tick` seconds, with one bulk UPDATE per table and one bulk INSERT of
chunks. Readers (the `?wait=` long poll, live logs) are signalled after each commit.

Ordering and durability: everything queued before `await flush()` returns is committed;
the engine flushes before it decides an action's final status and whenever a step's log
buffer is full (which bounds memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update

from app.actions.bus import SignalBus
from app.actions.models import ActionLogChunk, ActionStep, ActionTarget
from app.core.database import Database

logger = logging.getLogger(__name__)

RETRY_SECONDS = 0.5
MAX_ATTEMPTS = 5
_STEPS = cast(Table, ActionStep.__table__)
_TARGETS = cast(Table, ActionTarget.__table__)
_CHUNKS = cast(Table, ActionLogChunk.__table__)


def _updates(
    table: Table, rows: dict[int, dict[str, Any]]
) -> list[tuple[Any, list[dict[str, Any]]]]:
    """One executemany UPDATE per set of columns changed (Core statements, compiled once
    per shape and cached: the ORM's bulk path costs more per row)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_id, values in rows.items():
        groups.setdefault(tuple(sorted(values)), []).append({"_row_id": row_id, **values})
    return [
        (
            update(table)
            .where(table.c.id == bindparam("_row_id"))
            .values({column: bindparam(column) for column in columns}),
            params,
        )
        for columns, params in groups.items()
    ]


class StateWriter:
    def __init__(self, database: Database, bus: SignalBus, *, tick: float = 0.05) -> None:
        self.database = database
        self.bus = bus
        self.tick = tick
        self._steps: dict[int, dict[str, Any]] = {}
        self._targets: dict[int, dict[str, Any]] = {}
        self._chunks: list[dict[str, Any]] = []
        self._topics: set[str] = set()
        self._queued = 0  # generation of the last change queued
        self._written = 0  # generation of the last change committed
        self._wake = asyncio.Event()
        self._now = asyncio.Event()  # a flush nothing else will join is waiting
        self._committed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    async def __aenter__(self) -> StateWriter:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            # Every target is done: nothing will join this batch, and the action's final
            # status waits for it (up to a whole tick at N = 1).
            await self.flush(now=True)
        finally:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    def step(self, step_id: int, **values: Any) -> None:
        self._steps.setdefault(step_id, {}).update(values)
        self._changed()

    def target(self, target_id: int, **values: Any) -> None:
        self._targets.setdefault(target_id, {}).update(values)
        self._changed()

    def chunks(self, rows: list[dict[str, Any]]) -> None:
        self._chunks.extend(rows)
        self._changed()

    def publish(self, topic: str) -> None:
        """Signal `topic` once the changes queued so far are committed."""
        self._topics.add(topic)
        self._changed()

    def _changed(self) -> None:
        self._queued += 1
        self._wake.set()

    async def flush(self, *, now: bool = False) -> None:
        """Return once everything queued before this call is committed; `now`: without
        waiting for the rest of the tick."""
        wanted = self._queued
        if self._written >= wanted:
            return
        if now:
            self._now.set()
        self._wake.set()
        async with self._committed:
            await self._committed.wait_for(lambda: self._written >= wanted or self._dead())
        if self._written < wanted and self._error is not None:
            raise RuntimeError("the engine could not store its state") from self._error

    def _dead(self) -> bool:
        return self._task is None or self._task.done()

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                # Let the other targets' changes of this moment join the transaction.
                if not self._now.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._now.wait(), self.tick)
                self._now.clear()
                self._wake.clear()
                await self._write_batch()
        except BaseException as exc:
            self._error = exc
            async with self._committed:
                self._committed.notify_all()
            raise

    async def _write_batch(self) -> None:
        generation = self._queued
        steps, self._steps = self._steps, {}
        targets, self._targets = self._targets, {}
        chunks, self._chunks = self._chunks, []
        topics, self._topics = self._topics, set()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self.database.transaction() as session:
                    if chunks:
                        await session.execute(insert(_CHUNKS), chunks)
                    for table, rows in ((_STEPS, steps), (_TARGETS, targets)):
                        for statement, params in _updates(table, rows):
                            await session.execute(statement, params)
                break
            except Exception:
                # A locked SQLite file or a dropped connection: try again (the batch is
                # idempotent); give up loudly rather than lose state silently.
                if attempt == MAX_ATTEMPTS:
                    raise
                logger.warning("storing engine state failed (attempt %s); retrying", attempt,
                               exc_info=True)
                await asyncio.sleep(RETRY_SECONDS * attempt)
        self._written = generation
        await self.bus.publish_many(topics)
        async with self._committed:
            self._committed.notify_all()

"""Reading a step's log: the documented JSON body and the SSE stream, both chunk by chunk.

Neither holds a whole log in memory: chunks are read in pages from the database and
written to the client as they are read.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import select

from app.actions.bus import SignalBus, Subscription, draining, step_topic
from app.actions.models import FINISHED, ActionStatus, ActionStep
from app.actions.repository import ActionRepository
from app.core.database import Database
from app.core.schemas import format_timestamp

PAGE = 64


def _ts(value: datetime | None) -> str | None:
    return format_timestamp(value) if value is not None else None


async def log_json(
    database: Database, step_id: int, target_data: object
) -> AsyncIterator[bytes]:
    """The reference's `Log` object, with `step.output` streamed from the stored chunks."""
    async with database.sessionmaker() as session:
        step = await session.get(ActionStep, step_id)
        assert step is not None
        started, completed, updated = step.started_at, step.completed_at, step.log_updated_at
        order = step.order
    head = {
        "target": target_data,
        "updated_at": _ts(updated),
        "step": {"order": order, "started_at": _ts(started), "completed_at": _ts(completed)},
    }
    prefix = json.dumps(head)[:-2]  # drop the closing "}}" of step and the object
    yield (prefix + ', "output": "').encode()
    last = 0
    while True:
        async with database.sessionmaker() as session:
            chunks = await ActionRepository(session).log_chunks(step_id, last, PAGE)
        if not chunks:
            break
        for chunk in chunks:
            last = chunk.seq
            if chunk.data:
                yield json.dumps(chunk.data)[1:-1].encode()
    yield b'"}}'


def _event(event: str, data: object, event_id: int | None = None) -> bytes:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    lines.append(f"data: {json.dumps(data)}")
    return ("\n".join(lines) + "\n\n").encode()


async def log_events(
    database: Database, bus: SignalBus, step_id: int, last_event_id: int
) -> AsyncIterator[bytes]:
    """SSE: one `log` event per stored chunk (id = its sequence number), then `end`.

    Resuming with Last-Event-ID continues after that chunk: the database is the stream,
    the bus only wakes us up, so nothing is skipped or sent twice.
    """
    last = last_event_id
    yield b"retry: 1000\n\n"
    async with bus.subscribe(step_topic(step_id)) as changes:
        async for event in _events_after(database, step_id, last, changes):
            yield event


async def _events_after(
    database: Database, step_id: int, last: int, changes: Subscription
) -> AsyncIterator[bytes]:
    while True:
        async with database.sessionmaker() as session:
            chunks = await ActionRepository(session).log_chunks(step_id, last, PAGE)
            status = await session.scalar(select(ActionStep.status).where(ActionStep.id == step_id))
        for chunk in chunks:
            last = chunk.seq
            if chunk.final:
                yield _event("end", {"status": status}, chunk.seq)
                return
            yield _event("log", {"output": chunk.data}, chunk.seq)
        if chunks:
            continue
        if status in FINISHED and status != ActionStatus.IN_PROGRESS:
            # Finished without a terminal chunk (never ran, or reaped): nothing more comes.
            yield _event("end", {"status": status})
            return
        if draining():
            # The server is restarting: the client reconnects (after `retry`) with the
            # Last-Event-ID of the last chunk above and resumes on another process.
            return
        yield b": keep-alive\n\n"
        await changes.wait(1.0)

"""Step output: redacted, NUL-free, stored as ordered chunks in batched inserts.

Memory is bounded whatever the output size: at most `max_buffer` characters wait for the
database; a writer that gets ahead waits for its flush (and SSH flow control holds the
remote side back meanwhile).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, update

from app.actions.bus import SignalBus, step_topic
from app.actions.metrics import LOG_BYTES
from app.actions.models import ActionLogChunk, ActionStep
from app.core.database import Database, utcnow

REDACTED = "********"
CHUNK_CHARS = 64 * 1024

def _update(model: Any) -> Any:
    # Engine sessions hold no objects: skip the ORM's synchronisation (an extra SELECT).
    return update(model).execution_options(synchronize_session=False)



class Redactor:
    """Replaces known secret values, including ones split across two reads."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self.hold = max((len(s) for s in self.secrets), default=1) - 1
        self._carry = ""

    def feed(self, text: str) -> str:
        if not self.secrets:
            return text
        text = self._redact(self._carry + text)
        # Keep back only a tail that could be the start of a secret completed by the next
        # read; anything else goes out at once, so live output is never delayed.
        keep = 0
        for size in range(min(self.hold, len(text)), 0, -1):
            tail = text[-size:]
            if any(secret.startswith(tail) for secret in self.secrets):
                keep = size
                break
        self._carry = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        text, self._carry = self._redact(self._carry), ""
        return text

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


class StepLog:
    def __init__(
        self,
        database: Database,
        step_id: int,
        redactor: Redactor,
        bus: SignalBus,
        *,
        start_seq: int = 0,
        flush_interval: float = 0.2,
        max_buffer: int = 1024 * 1024,
    ) -> None:
        self.database = database
        self.step_id = step_id
        self.redactor = redactor
        self.bus = bus
        self.seq = start_seq
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self._pending: list[str] = []
        self._pending_chars = 0
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self.total_chars = 0

    async def __aenter__(self) -> StepLog:
        self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._ticker is not None:
            self._ticker.cancel()

    async def _tick(self) -> None:
        # Live readers see output within `flush_interval`, not only when a batch fills.
        while True:
            await asyncio.sleep(self.flush_interval)
            if self._pending_chars:
                await self.flush()

    async def write(self, data: str) -> None:
        text = self.redactor.feed(data.replace("\x00", ""))
        if text:
            self._pending.append(text)
            self._pending_chars += len(text)
        if self._pending_chars >= self.max_buffer:
            await self.flush()

    async def flush(
        self, *, final: bool = False, step_values: dict[str, Any] | None = None
    ) -> None:
        """Store pending output; `final` adds the terminal record (and `step_values`, the
        step's outcome, in the same transaction)."""
        async with self._lock:
            if final:
                tail = self.redactor.flush()
                if tail:
                    self._pending.append(tail)
                    self._pending_chars += len(tail)
            text = "".join(self._pending)
            self._pending.clear()
            self._pending_chars = 0
            rows = []
            for start in range(0, len(text), CHUNK_CHARS):
                self.seq += 1
                rows.append(
                    {"action_step_id": self.step_id, "seq": self.seq,
                     "data": text[start : start + CHUNK_CHARS], "final": False}
                )
            if final:
                self.seq += 1
                rows.append({"action_step_id": self.step_id, "seq": self.seq, "data": "",
                             "final": True})
            if not rows:
                return
            self.total_chars += len(text)
            LOG_BYTES.inc(len(text))
            now = utcnow()
            async with self.database.transaction() as session:
                await session.execute(insert(ActionLogChunk), rows)
                await session.execute(
                    _update(ActionStep)
                    .where(ActionStep.id == self.step_id)
                    .values(
                        log_chunks=self.seq,
                        log_bytes=ActionStep.log_bytes + len(text),
                        log_updated_at=now,
                        updated_at=now,
                        **(step_values or {}),
                    )
                )
        await self.bus.publish(step_topic(self.step_id))

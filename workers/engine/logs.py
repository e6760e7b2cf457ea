"""Step output: redacted, NUL-free, stored as ordered chunks in batched inserts.

Memory is bounded whatever the output size: at most `max_buffer` characters wait for the
database; a writer that gets ahead waits for its flush (and SSH flow control holds the
remote side back meanwhile).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from app.actions.bus import step_topic
from app.actions.metrics import LOG_BYTES
from app.core.database import utcnow
from workers.engine.writer import StateWriter

REDACTED = "********"
CHUNK_CHARS = 64 * 1024

class Redactor:
    """Replaces known secret values, including ones split across two reads."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._carry = ""
        # What replaces a text taken out (`remove`) rather than redacted.
        self._removed: dict[str, str] = {}

    def remove(self, text: str, keep: str = "") -> None:
        """Take `text` out of the log, leaving `keep` in its place: a result line's marker
        and token become the marker. Like a secret, the start of `text` is held back at the
        end of a read, so `text` starts where it cannot be mistaken for output (the token
        alone is hex: output ending in `d` would wait for the next read)."""
        self._removed[text] = keep
        self.secrets = sorted({*self.secrets, text}, key=len, reverse=True)

    def feed(self, text: str) -> str:
        if not self.secrets:
            return text
        text = self._redact(self._carry + text)
        # Keep back only a tail that could be the start of a secret completed by the next
        # read; anything else goes out at once, so live output is never delayed.
        keep = self._partial_tail(text)
        self._carry = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def _partial_tail(self, text: str) -> int:
        """Length of the longest tail of `text` that is a proper prefix of a secret.

        Only positions holding a secret's first character are tried (a private key is a
        secret: trying every tail length up to its size cost hundreds of slices per read).
        """
        keep = 0
        for secret in self.secrets:
            # `text` holds no whole secret (just redacted), so a tail starting earlier
            # than len(secret) - 1 characters from the end cannot be a prefix of it; one
            # starting at or after len(text) - keep would not be longer than what is kept.
            end = len(text) - keep
            at = text.find(secret[0], max(0, len(text) - len(secret) + 1), end)
            while at != -1:
                if secret.startswith(text[at:]):
                    keep = len(text) - at
                    break  # the earliest match is this secret's longest tail
                at = text.find(secret[0], at + 1, end)
        return keep

    def flush(self) -> str:
        text, self._carry = self._redact(self._carry), ""
        return text

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, self._removed.get(secret, REDACTED))
        return text


class StepLog:
    """A step's output on its way to the database, through the action's `StateWriter`."""

    def __init__(
        self,
        writer: StateWriter,
        step_id: int,
        redactor: Redactor,
        *,
        start_seq: int = 0,
        base_bytes: int = 0,
        flush_interval: float = 0.2,
        max_buffer: int = 1024 * 1024,
    ) -> None:
        self.writer = writer
        self.step_id = step_id
        self.redactor = redactor
        self.seq = start_seq
        self.base_bytes = base_bytes
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self._pending: list[str] = []
        self._pending_chars = 0
        self._timer: asyncio.TimerHandle | None = None
        self.total_chars = 0

    async def __aenter__(self) -> StepLog:
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._timer is not None:
            self._timer.cancel()

    async def write(self, data: str) -> None:
        text = self.redactor.feed(data.replace("\x00", ""))
        if text:
            self._pending.append(text)
            self._pending_chars += len(text)
            if self._timer is None:
                # Live readers see output within `flush_interval`, not only when a batch
                # fills (a timer, not a task per step: most steps end well before it).
                self._timer = asyncio.get_running_loop().call_later(
                    self.flush_interval, self._hand_over
                )
        if self._pending_chars >= self.max_buffer:
            # Wait for the database: memory stays bounded whatever the output size (and
            # SSH flow control holds the remote side back meanwhile).
            await self.flush(wait=True)

    def _hand_over(self) -> None:
        self._timer = None
        if self._pending_chars:
            self._queue()

    async def flush(
        self, *, final: bool = False, step_values: dict[str, Any] | None = None,
        wait: bool = False,
    ) -> None:
        """Hand pending output to the writer; `final` adds the terminal record (and
        `step_values`, the step's outcome, stored in the same transaction)."""
        if final and self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue(final=final, step_values=step_values)
        if wait:
            await self.writer.flush()

    def _queue(
        self, *, final: bool = False, step_values: dict[str, Any] | None = None
    ) -> None:
        # Synchronous on purpose: no await between taking the pending text and queueing
        # it, so two hand-overs can never interleave (no lock needed).
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
        self.writer.chunks(rows)
        self.writer.step(
            self.step_id,
            log_chunks=self.seq,
            log_bytes=self.base_bytes + self.total_chars,
            log_updated_at=now,
            updated_at=now,
            **(step_values or {}),
        )
        self.writer.publish(step_topic(self.step_id))

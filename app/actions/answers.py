"""The JSON answer of `GET /actions/{id}`, and what it keeps of finished actions.

An action's targets and steps are most of its answer: an action on a hundred servers has
hundreds of steps, and reading, building and writing them cost about 15 ms of CPU a
request, where a project costs 2; the action's own row, with the eight relations it
shows, cost 2 more. Once an action has finished, its answer changes only when one of
those rows does, and finished actions are what users read most (each one again and again
while an agent or a page follows its results). So each API process keeps the JSON of
finished actions' answers under a version of every row they show
(`ActionRepository.answer_version`): a read checks the caller's access and the version in
one statement and answers with the kept JSON when it is still current. Anything that
writes one of those rows changes the version, so a kept answer is never served for rows
that changed.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from app.actions import schemas
from app.actions.repository import ActionShown

_ACTION = TypeAdapter(schemas.Action)
_TARGETS = TypeAdapter(list[schemas.ActionTarget])
_TARGETS_KEY = b'"' + (schemas.Action.model_fields["targets"].serialization_alias
                       or "targets").encode() + b'":'


@dataclass(frozen=True)
class KnownAnswer:
    version: tuple[Any, ...]
    json: bytes


class FinishedAnswers:
    """The answers of recently read finished actions, least recently read dropped first
    beyond `max_bytes` (per API process)."""

    def __init__(self, max_bytes: int = 32 << 20) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[int, KnownAnswer] = OrderedDict()
        self._bytes = 0

    def get(self, action_id: int, version: tuple[Any, ...]) -> KnownAnswer | None:
        known = self._entries.get(action_id)
        if known is None or known.version != version:
            return None
        self._entries.move_to_end(action_id)
        return known

    def put(self, action_id: int, known: KnownAnswer) -> None:
        if len(known.json) > self.max_bytes:
            return
        old = self._entries.pop(action_id, None)
        if old is not None:
            self._bytes -= len(old.json)
        self._entries[action_id] = known
        self._bytes += len(known.json)
        while self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.json)


def action_json(shown: ActionShown, base_url: str, finished: FinishedAnswers) -> bytes:
    """The answer of `GET /actions/{id}` (the reference's Action)."""
    known: KnownAnswer | None = shown.known
    if known is not None:
        return known.json
    assert shown.action is not None
    targets = _TARGETS.dump_json(
        [schemas.ActionTarget.of(target, steps) for target, steps in shown.targets],
        by_alias=True)
    summary = schemas.summarize([target for target, _ in shown.targets])
    # The action without its targets, then the targets written in: the object's last key
    # (built from plain rows, they are not the ORM collection `Action.of` would read).
    head = _ACTION.dump_json(schemas.Action.of(shown.action, base_url, [], summary=summary),
                             by_alias=True, exclude={"targets"})
    answer = b"".join((head[:-1], b",", _TARGETS_KEY, targets, b"}"))
    if shown.version is not None:
        finished.put(shown.action.id, KnownAnswer(shown.version, answer))
    return answer

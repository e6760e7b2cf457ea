"""What a pipeline's outgoing hooks hear of its actions (`app.wiring` registers these as
the actions' state and finish listeners).

Events: `action.queued` (the action was created), `action.started` (a worker claimed it),
`action.status_changed` (each status it takes: pending, waiting, in-progress, completed,
failed), `action.completed` and `action.failed`. Each hook's payload describes the action
as it was at that change: its status then, what it recorded so far (`action_data`) and
its page.

A deploy's commit: a deploy of a branch learns which commit it deploys only once its fetch
step has run, and a commit-status hook posts to `.../statuses/{{ action.action_data.commit
.hash }}`. So the state events of an action whose `action_data` names a commit without a
hash yet are held until the steps record it, then sent in order, with the commit; when the
action finishes without one (its fetch failed), they are dropped: a status is never posted
on an empty hash. `action.completed` / `action.failed` are sent as they always were.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import Row, select

from app.actions.listeners import ActionFinished, ActionStateChanged
from app.actions.models import FINISHED, Action
from app.core.database import Database
from app.core.settings import Settings
from app.hooks.sender import pipeline_listens, send_outgoing_hooks

STATE_EVENTS = {"pending": "action.queued", "in-progress": "action.started"}
STATUS_CHANGED = "action.status_changed"
# How often a held state event looks for the deployed commit.
COMMIT_POLL_SECONDS = 0.25


async def _action(database: Database, action_id: int) -> Row[Any] | None:
    async with database.transaction() as session:
        return (
            await session.execute(
                select(Action.type, Action.resource_type, Action.resource_id,
                       Action.pipeline_id, Action.status, Action.action_data)
                .where(Action.id == action_id)
            )
        ).one_or_none()


def _variables(
    settings: Settings, action_id: int, status: str, row: Row[Any]
) -> dict[str, Any]:
    return {
        "action": {
            "id": action_id,
            "status": status,
            "type": row.type,
            "resource_type": row.resource_type,
            "resource_id": row.resource_id,
            "action_data": row.action_data or {},
            "url_web_permalink": f"{settings.frontend_url}/actions/{action_id}",
        }
    }


def _commit_unknown(action_data: Any) -> bool:
    commit = action_data.get("commit") if isinstance(action_data, dict) else None
    return isinstance(commit, dict) and not commit.get("hash")


async def _with_commit(
    database: Database, settings: Settings, action_id: int
) -> Row[Any] | None:
    """The action once its steps recorded the commit; None if it finished without one."""
    deadline = time.monotonic() + settings.action_time_limit_seconds
    while time.monotonic() < deadline:
        row = await _action(database, action_id)
        if row is None:
            return None
        if not _commit_unknown(row.action_data):
            return row
        if row.status in FINISHED:
            return None
        await asyncio.sleep(COMMIT_POLL_SECONDS)
    return None


async def state_hooks(
    database: Database, settings: Settings, event: ActionStateChanged
) -> None:
    """A state listener: `action.queued` / `action.started` and `action.status_changed`."""
    row = await _action(database, event.action_id)
    if row is None or row.pipeline_id is None:
        return
    names = [name for name in (STATE_EVENTS.get(event.status), STATUS_CHANGED) if name]
    if not await pipeline_listens(database, row.pipeline_id, names):
        return
    if _commit_unknown(row.action_data):
        row = await _with_commit(database, settings, event.action_id)
        if row is None or row.pipeline_id is None:
            return
    variables = _variables(settings, event.action_id, event.status, row)
    for name in names:
        await send_outgoing_hooks(
            database, settings, pipeline_id=row.pipeline_id, event=name,
            variables=variables, action_id=event.action_id,
        )


async def finish_hooks(database: Database, settings: Settings, event: ActionFinished) -> None:
    """A finish listener: `action.completed` / `action.failed`."""
    if event.pipeline_id is None:
        return
    row = await _action(database, event.action_id)
    if row is None:
        return
    await send_outgoing_hooks(
        database, settings, pipeline_id=event.pipeline_id, event=f"action.{event.status}",
        variables=_variables(settings, event.action_id, event.status, row),
        action_id=event.action_id,
    )

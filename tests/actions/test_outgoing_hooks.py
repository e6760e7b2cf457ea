"""When an action finishes, its pipeline's outgoing hooks are called (real HTTP)."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.hooks.models import HookRequest
from tests.actions.conftest import World, add_step, run_pipeline
from tests.hooks.test_sender import Receiver, receiver  # noqa: F401  (fixture)


async def test_finished_actions_call_outgoing_hooks(
    client: httpx.AsyncClient,
    db: AsyncSession,
    world: World,
    receiver: tuple[Receiver, str],  # noqa: F811
) -> None:
    target, url = receiver
    target.received.clear()
    target.failures_left = 0
    for name, events in (("on success", ["action.completed"]), ("on failure", ["action.failed"])):
        r = await client.post(
            f"/pipelines/{world.pipeline_id}/hooks/outgoing",
            json={"name": name, "target_url": url, "trigger_when": {"events": events}},
            headers=world.headers,
        )
        assert r.status_code == 201, r.text
    await add_step(client, world, "echo hello")

    action = await run_pipeline(client, world)
    assert action["status"] == "completed"
    for _ in range(100):  # the listener runs right after the final status is stored
        if target.received:
            break
        await asyncio.sleep(0.05)
    [(_, body)] = target.received
    sent = json.loads(body)
    assert sent["event"] == "action.completed"
    assert sent["action"]["id"] == action["id"] and sent["action"]["status"] == "completed"
    # The attempt is recorded once its answer is read, a moment after the receiver saw it.
    for _ in range(100):
        stored = (await db.scalars(select(HookRequest))).all()
        if stored:
            break
        await db.commit()  # a fresh snapshot for the next look
        await asyncio.sleep(0.05)
    assert [(s.action_id, s.response_status_code) for s in stored] == [(action["id"], 200)]

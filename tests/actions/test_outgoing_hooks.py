"""As an action is queued, starts, changes state and finishes, its pipeline's outgoing
hooks are called (real HTTP)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.hooks.models import HookRequest
from tests import standins
from tests.actions import fs
from tests.actions.conftest import World, add_step, run_pipeline, wait_action
from tests.conftest import free_port
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


async def _hook(client: httpx.AsyncClient, world: World, url: str, events: list[str]) -> None:
    r = await client.post(
        f"/pipelines/{world.pipeline_id}/hooks/outgoing",
        json={"name": "progress", "target_url": url, "trigger_when": {"events": events}},
        headers=world.headers,
    )
    assert r.status_code == 201, r.text


async def _until(
    received: list[tuple[dict[str, str], bytes]], done: Any, seconds: float = 10
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while True:
        bodies = [json.loads(body) for _, body in received]
        if done(bodies) or time.monotonic() > deadline:
            return bodies
        await asyncio.sleep(0.05)


def _final(bodies: list[dict[str, Any]]) -> bool:
    return any(b["event"] == "action.status_changed" and b["action"]["status"] == "completed"
               for b in bodies)


async def _run_with_hook(
    client: httpx.AsyncClient, world: World, receiver: tuple[Receiver, str],  # noqa: F811
    events: list[str], command: str, done: Any,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Run a one-step pipeline whose hook hears `events`: the action, and what the hook
    received as (event, status) until `done`."""
    target, url = receiver
    target.received.clear()
    target.failures_left = 0
    await _hook(client, world, url, events)
    await add_step(client, world, command)
    action = await run_pipeline(client, world)
    bodies = await _until(target.received, done)
    assert {b["action"]["id"] for b in bodies} == {action["id"]}
    assert all(b["action"]["url_web_permalink"].endswith(f"/actions/{action['id']}")
               for b in bodies)
    return action, [(b["event"], b["action"]["status"]) for b in bodies]


async def test_queued_started_and_each_status_change_call_outgoing_hooks(
    client: httpx.AsyncClient, world: World, receiver: tuple[Receiver, str],  # noqa: F811
) -> None:
    action, received = await _run_with_hook(
        client, world, receiver, ["action.queued", "action.started", "action.status_changed"],
        "echo hello", _final,
    )
    assert action["status"] == "completed"
    # One action's notices arrive in the order its states were taken.
    assert received == [
        ("action.queued", "pending"),
        ("action.status_changed", "pending"),
        ("action.started", "in-progress"),
        ("action.status_changed", "in-progress"),
        ("action.status_changed", "completed"),
    ]


async def test_status_changes_of_a_failed_action_end_on_failed(
    client: httpx.AsyncClient, world: World, receiver: tuple[Receiver, str],  # noqa: F811
) -> None:
    action, received = await _run_with_hook(
        client, world, receiver, ["action.status_changed", "action.failed"],
        "echo no; exit 3", lambda got: any(b["event"] == "action.failed" for b in got),
    )
    assert action["status"] == "failed"
    assert received == [
        ("action.status_changed", "pending"),
        ("action.status_changed", "in-progress"),
        ("action.status_changed", "failed"),
        ("action.failed", "failed"),
    ]


async def test_a_slow_receiver_does_not_hold_the_action_up(
    client: httpx.AsyncClient, world: World,
) -> None:
    """Hooks are sent in the background: an action whose hook answers slowly finishes
    (and is seen finished) as fast as one without hooks."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def slow(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        await asyncio.sleep(1.5)
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/slow", slow, methods=["POST"])])
    with standins.serve(app, free_port()) as base:
        await _hook(client, world, f"{base}/slow",
                    ["action.queued", "action.started", "action.status_changed"])
        await add_step(client, world, "echo hello")
        started = time.monotonic()
        action = await run_pipeline(client, world)
        took = time.monotonic() - started
        assert action["status"] == "completed"
        # Five notices at 1.5 s each would take 7.5 s if the action waited for them.
        assert took < 3, took
        bodies = await _until(received, _final, seconds=20)
    assert [b["action"]["status"] for b in bodies][-1] == "completed"


async def test_an_action_cancelled_before_it_started_ends_its_hooks_on_failed(
    client: httpx.AsyncClient, world: World, receiver: tuple[Receiver, str],  # noqa: F811
) -> None:
    """A CI's commit status must not stay "pending" when the user cancels an action that
    was still waiting its turn (one action of the pipeline at a time)."""
    target, url = receiver
    target.received.clear()
    target.failures_left = 0
    r = await client.put(
        f"/pipelines/{world.pipeline_id}",
        json={"id": world.pipeline_id, "name": "one at a time", "max_parallel_actions": 1},
        headers=world.headers,
    )
    assert r.status_code == 204, r.text
    gate = f"/tmp/dvp-cgate-{uuid.uuid4().hex}"
    await add_step(client, world, f"while [ ! -f {gate} ]; do sleep 0.05; done")
    first = await run_pipeline(client, world, wait=0)
    try:
        await _hook(client, world, url, ["action.status_changed", "action.failed"])
        second = await run_pipeline(client, world, wait=0)
        waiting = await _until(target.received, lambda got: any(
            b["action"]["id"] == second["id"] and b["action"]["status"] == "waiting" for b in got))
        assert waiting, "the waiting action was never announced"
        r = await client.post(f"/actions/{second['id']}/cancel", headers=world.headers)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "failed"
        bodies = await _until(target.received, lambda got: any(
            b["action"]["id"] == second["id"] and b["event"] == "action.failed" for b in got))
        mine = [(b["event"], b["action"]["status"]) for b in bodies
                if b["action"]["id"] == second["id"]]
        assert mine[-2:] == [("action.status_changed", "failed"), ("action.failed", "failed")]
    finally:
        fs.touch(gate)  # the first action ends whatever happened above
    assert (await wait_action(client, world, first["id"]))["status"] == "completed"

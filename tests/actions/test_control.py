"""Concurrency limits, retry, cancel, time limit, live streaming and waiting."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.actions.models import Action, ActionStatus, ActionTarget, ReasonCode
from app.core.database import Database
from tests.actions import fs
from tests.actions.conftest import World, add_step, run_pipeline, step_log, wait_action


async def _target_statuses(database: Database, action_id: int) -> list[tuple[str, str]]:
    async with database.sessionmaker() as session:
        rows = (
            await session.execute(
                select(ActionTarget.status, ActionTarget.status_reason_code).where(
                    ActionTarget.action_id == action_id
                )
            )
        ).all()
    return [(r[0], r[1]) for r in rows]


async def _until(predicate: Any, seconds: float = 15) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_max_parallel_actions_makes_the_second_action_wait(
    client: httpx.AsyncClient, world: World, shell_server: Any, app: Any
) -> None:
    world.servers.add(101, shell_server.port, max_parallel=1)
    gate = f"/tmp/dvp-gate-{uuid.uuid4().hex}"
    await add_step(client, world, f"while [ ! -f {gate} ]; do sleep 0.05; done; echo released")
    first = await run_pipeline(client, world, wait=0)
    second = await run_pipeline(client, world, wait=0)
    database = app.state.database

    async def first_running_second_waiting() -> bool:
        return (await _target_statuses(database, first["id"]) == [("in-progress", "IN_PROGRESS")]
                and await _target_statuses(database, second["id"])
                == [("waiting", "WAITING_CONCURRENCY_TARGET")])

    await _until(first_running_second_waiting)
    waiting = (await client.get(f"/actions/{second['id']}", headers=world.headers)).json()
    assert waiting["targets"][0]["status_reason_code"] == "WAITING_CONCURRENCY_TARGET"
    assert waiting["summary"]["targets"]["pending"] == 1
    fs.touch(gate)
    done_first = await wait_action(client, world, first["id"])
    done_second = await wait_action(client, world, second["id"])
    assert done_first["status"] == done_second["status"] == "completed", (
        done_first["status_reason_human_readable"], done_second["status_reason_human_readable"])
    # Never both at once: the second started only after the first finished.
    assert done_second["targets"][0]["started_at"] >= done_first["targets"][0]["completed_at"]


async def test_retry_runs_only_what_failed(
    client: httpx.AsyncClient, world: World, shell_server: Any
) -> None:
    flag = f"/tmp/dvp-retry-{uuid.uuid4().hex}"
    world.servers.add(102, shell_server.port)
    world.app_servers[:] = [101, 102]
    await add_step(client, world, "echo step-one >> /dev/null; echo one")
    # Fails on server 102 until the flag exists.
    await add_step(client, world, f"[ -f {flag} ] || [ \"$(hostname)\" = never ] || exit 7")
    action = await run_pipeline(client, world)
    assert action["status"] == "failed"
    assert action["summary"]["targets"]["failed"] == 2
    fs.touch(flag)
    response = await client.post(f"/actions/{action['id']}/retry", headers=world.headers)
    assert response.status_code == 201, response.text
    retry = response.json()
    assert retry["retry_of"] == action["id"]
    assert retry["parent"]["id"] == action["id"]
    done = await wait_action(client, world, retry["id"])
    assert done["status"] == "completed"
    for target in done["targets"]:
        # Step one completed the first time: skipped now, step two re-ran.
        assert [s["status"] for s in target["steps"]] == ["skipped", "completed"]
    original = (await client.get(f"/actions/{action['id']}", headers=world.headers)).json()
    assert [c["id"] for c in original["children"]] == [retry["id"]]
    again = await client.post(f"/actions/{retry['id']}/retry", headers=world.headers)
    assert again.status_code == 409


async def test_cancel_kills_running_step_and_skips_the_rest(
    client: httpx.AsyncClient, world: World, app: Any
) -> None:
    marker = f"/tmp/dvp-cancel-{uuid.uuid4().hex}"
    await add_step(client, world, f"echo started; (sleep 2; touch {marker}) & sleep 60")
    await add_step(client, world, "echo never")
    action = await run_pipeline(client, world, wait=0)

    async def running() -> bool:
        log = await step_log(client, world, action)
        return "started" in (log["step"]["output"] or "")

    action = (await client.get(f"/actions/{action['id']}", headers=world.headers)).json()
    await _until(running)
    response = await client.post(f"/actions/{action['id']}/cancel", headers=world.headers)
    assert response.status_code == 200, response.text
    done = await wait_action(client, world, action["id"], 20)
    assert done["status"] == "failed"
    assert done["status_reason_human_readable"] == "Cancelled by user.", done["targets"][0]["steps"]
    steps = done["targets"][0]["steps"]
    assert [s["status"] for s in steps] == ["failed", "skipped"]
    await asyncio.sleep(2.5)

    assert not fs.exists(marker)
    again = await client.post(f"/actions/{action['id']}/cancel", headers=world.headers)
    assert again.status_code == 409


async def test_action_time_limit(
    client: httpx.AsyncClient, world: World, app: Any
) -> None:
    from app.actions.models import Action

    await add_step(client, world, "sleep 30; echo late")
    action = await run_pipeline(client, world, wait=0)
    async with app.state.database.transaction() as session:
        row = await session.get(Action, action["id"])
        assert row is not None
        row.time_limit_seconds = 1
    done = await wait_action(client, world, action["id"], 20)
    assert done["status"] == "failed"
    assert "time limit of 1 seconds" in done["status_reason_human_readable"]


async def test_wait_returns_as_soon_as_the_action_finishes(
    client: httpx.AsyncClient, world: World
) -> None:
    await add_step(client, world, "sleep 0.5; echo quick")
    loop = asyncio.get_running_loop()
    started = loop.time()
    action = await run_pipeline(client, world, wait=30)
    assert action["status"] == "completed"
    assert loop.time() - started < 5


def _parse_sse(raw: str) -> list[dict[str, Any]]:
    events = []
    for block in raw.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            key, _, value = line.partition(": ")
            fields[key] = value
        if "event" in fields:
            events.append(fields)
    return events


async def test_sse_streams_live_and_resumes_from_last_event_id(
    client: httpx.AsyncClient, world: World, app: Any, live_url: str
) -> None:
    await add_step(
        client, world, "for i in 1 2 3 4 5 6; do echo line-$i; sleep 0.3; done"
    )
    action = await run_pipeline(client, world, wait=0)
    action = (await client.get(f"/actions/{action['id']}", headers=world.headers)).json()
    target_id = action["targets"][0]["id"]
    url = f"/actions/{action['id']}/targets/{target_id}/steps/1/logs/stream"

    received: list[dict[str, Any]] = []
    live_client = httpx.AsyncClient(base_url=live_url, timeout=30)
    async with live_client, live_client.stream("GET", url, headers=world.headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        async for text in response.aiter_text():
            buffer += text
            received = [e for e in _parse_sse(buffer) if e["event"] == "log"]
            if any("line-2" in json.loads(e["data"])["output"] for e in received):
                break  # the client drops mid-step
    live = "".join(json.loads(e["data"])["output"] for e in received)
    assert "line-1" in live and "line-6" not in live
    last_id = received[-1]["id"]

    response = await client.get(url, headers={**world.headers, "Last-Event-ID": last_id})
    events = _parse_sse(response.text)
    assert events[-1]["event"] == "end"
    resumed = "".join(json.loads(e["data"])["output"] for e in events if e["event"] == "log")
    ids = [int(e["id"]) for e in events if e["event"] == "log"]
    assert ids == sorted(ids) and (not ids or ids[0] > int(last_id))
    full = live + resumed
    # No gap, no duplicate.
    assert full == "".join(f"line-{i}\n" for i in range(1, 7))
    stored = await step_log(client, world, action)
    assert stored["step"]["output"] == full


async def test_secret_never_in_streamed_log(
    client: httpx.AsyncClient, world: World
) -> None:
    secret = "hunter2-very-secret"
    world.servers.secrets.append(secret)
    await add_step(client, world, f"echo {secret}; sleep 0.3; echo {secret}")
    action = await run_pipeline(client, world)
    target_id = action["targets"][0]["id"]
    response = await client.get(
        f"/actions/{action['id']}/targets/{target_id}/steps/1/logs/stream",
        headers=world.headers,
    )
    assert secret not in response.text
    assert "********" in response.text


async def test_pipeline_max_parallel_actions_queues_whole_actions(
    client: httpx.AsyncClient, world: World, app: Any
) -> None:
    updated = await client.put(
        f"/pipelines/{world.pipeline_id}",
        json={"id": world.pipeline_id, "name": "Deploy one at a time", "max_parallel_actions": 1},
        headers=world.headers,
    )
    assert updated.status_code == 204
    gate = f"/tmp/dvp-pgate-{uuid.uuid4().hex}"
    await add_step(client, world, f"while [ ! -f {gate} ]; do sleep 0.05; done; echo go")
    first = await run_pipeline(client, world, wait=0)
    second = await run_pipeline(client, world, wait=0)

    async def second_waits() -> bool:
        body = (await client.get(f"/actions/{second['id']}", headers=world.headers)).json()
        return bool(body["status_reason_code"] == "WAITING_CONCURRENCY_PIPELINE")

    await _until(second_waits)
    body = (await client.get(f"/actions/{second['id']}", headers=world.headers)).json()
    assert body["status"] == "waiting"
    fs.touch(gate)
    assert (await wait_action(client, world, first["id"]))["status"] == "completed"
    assert (await wait_action(client, world, second["id"]))["status"] == "completed"



async def _started_in_order(
    client: httpx.AsyncClient, world: World, actions: list[dict[str, Any]]
) -> None:
    """Each action completed, and each started only once the one asked for before it had
    completed: queued actions run in the order they were asked for, one at a time."""
    done = [await wait_action(client, world, a["id"], 60) for a in actions]
    assert [d["status"] for d in done] == ["completed"] * len(done), [
        d["status_reason_human_readable"] for d in done]
    for before, after in itertools.pairwise(done):
        assert after["targets"][0]["started_at"] >= before["targets"][0]["completed_at"], (
            [(d["id"], d["targets"][0]["started_at"]) for d in done])


async def _all_waiting(
    client: httpx.AsyncClient, world: World, actions: list[dict[str, Any]], reason: str
) -> None:
    async def waiting() -> bool:
        for action in actions:
            body = (await client.get(f"/actions/{action['id']}", headers=world.headers)).json()
            codes = {body["status_reason_code"], body["targets"][0]["status_reason_code"]}
            if reason not in codes:
                return False
        return True

    await _until(waiting)


async def _one_at_a_time(client: httpx.AsyncClient, world: World) -> None:
    updated = await client.put(
        f"/pipelines/{world.pipeline_id}",
        json={"id": world.pipeline_id, "name": "Deploy one at a time", "max_parallel_actions": 1},
        headers=world.headers,
    )
    assert updated.status_code == 204


@pytest.mark.parametrize("limit", ["server", "pipeline"])
async def test_waiting_actions_start_in_the_order_they_were_asked_for(
    client: httpx.AsyncClient, world: World, shell_server: Any, limit: str
) -> None:
    # Deploys queued on one server (or one pipeline) must not overtake each other: the last
    # one asked for is the one that stays live. Four wait behind the first; each poll for
    # the free slot would pick one of them at random (1 chance in 24 of the right order).
    if limit == "server":
        world.servers.add(101, shell_server.port, max_parallel=1)
        reason = "WAITING_CONCURRENCY_TARGET"
    else:
        await _one_at_a_time(client, world)
        reason = "WAITING_CONCURRENCY_PIPELINE"
    gate = f"/tmp/dvp-order-{uuid.uuid4().hex}"
    await add_step(client, world, f"while [ ! -f {gate} ]; do sleep 0.05; done; echo released")
    actions = [await run_pipeline(client, world, wait=0) for _ in range(5)]
    await _all_waiting(client, world, actions[1:], reason)
    fs.touch(gate)
    await _started_in_order(client, world, actions)


@pytest.mark.parametrize("limit", ["server", "pipeline"])
async def test_an_action_still_queued_for_a_worker_holds_no_place_in_line(
    client: httpx.AsyncClient, world: World, shell_server: Any, app: Any, limit: str
) -> None:
    # An older action whose message still waits in the broker (re-sent, or its request
    # committed late) is no worker's yet: were newer ones to wait for it, they could hold
    # every worker process and it would never get one.
    world.servers.add(101, shell_server.port, max_parallel=1)
    if limit == "pipeline":
        await _one_at_a_time(client, world)
    await add_step(client, world, "echo hello")
    older = await run_pipeline(client, world)
    assert older["status"] == "completed"
    async with app.state.database.transaction() as session:
        await session.execute(update(Action).where(Action.id == older["id"]).values(
            status=ActionStatus.PENDING, status_reason_code=ReasonCode.PENDING,
            worker_id=None, started_at=None, completed_at=None))
        await session.execute(update(ActionTarget).where(
            ActionTarget.action_id == older["id"]).values(
            status=ActionStatus.PENDING, status_reason_code=ReasonCode.PENDING,
            started_at=None, completed_at=None))
    newer = await run_pipeline(client, world, wait=20)
    assert newer["status"] == "completed", newer["status_reason_human_readable"]

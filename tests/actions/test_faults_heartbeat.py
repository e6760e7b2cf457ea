"""The heartbeat of a running action meets the database misbehaving: its connection killed
in the middle of a beat, and the action's target rows held by another transaction for
longer than the reaper's patience. Real `devopness-server worker` processes on a Redis of
the test's own, PostgreSQL (row locks and backends to kill are what is tested).

Either way the worker is alive and the step keeps running, so the action must complete,
not be failed by the reaper as if its worker had died."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import httpx
import psycopg

from tests.actions.conftest import World, add_step
from tests.actions.test_faults_broker import (  # noqa: F401  (fixtures)
    STALE,
    _finished,
    _start,
    redis_server,
    workers,
)
from tests.actions.test_workers import _step_output

STEP_SECONDS = STALE + 4


async def _running(client: httpx.AsyncClient, world: World, action_id: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        body = (await client.get(f"/actions/{action_id}", headers=world.headers)).json()
        if body["status"] == "in-progress" and body["targets"][0]["status"] == "in-progress":
            return
        assert time.monotonic() < deadline, f"never ran: {body['status']}"
        await asyncio.sleep(0.1)


async def test_a_beat_whose_connection_is_killed_does_not_get_a_live_action_reaped(
    client: httpx.AsyncClient, world: World, app: Any, postgresql: str,
    workers: list[subprocess.Popen[bytes]],  # noqa: F811
) -> None:
    await add_step(client, world, f"sleep {STEP_SECONDS}; echo ran-once")
    action_id = await _start(client, world)
    await _running(client, world, action_id)
    # Hold the action's row so that the next beat waits on it, then kill the backend
    # running that beat (as a failover, an idle-in-transaction timeout or a DBA would).
    with psycopg.connect(postgresql, autocommit=False) as holder, \
            psycopg.connect(postgresql, autocommit=True) as admin:
        holder.execute("SELECT id FROM actions WHERE id = %s FOR UPDATE", (action_id,))
        deadline = time.monotonic() + 10
        while True:
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'UPDATE actions SET heartbeat_at%%'"
            ).fetchone()
            if row is not None:
                break
            assert time.monotonic() < deadline, "no beat ever waited on the action's row"
            await asyncio.sleep(0.05)
        assert admin.execute("SELECT pg_terminate_backend(%s)", (row[0],)).fetchone() == (True,)
        holder.rollback()
    done = await _finished(client, world, [action_id], within=STEP_SECONDS + 30)
    assert done[action_id]["status"] == "completed", done[action_id]
    assert (await _step_output(app, action_id)).count("ran-once") == 1


async def test_targets_locked_longer_than_the_stale_limit_do_not_stop_the_heartbeat(
    client: httpx.AsyncClient, world: World, app: Any, postgresql: str,
    workers: list[subprocess.Popen[bytes]],  # noqa: F811
) -> None:
    """The state writer updates target rows in its own order, many at a time; the heartbeat
    must not queue behind them (a beat that waited on them deadlocked with the writer at
    500 targets and the reaper then failed a live action)."""
    await add_step(client, world, f"sleep {STEP_SECONDS}; echo ran-once")
    action_id = await _start(client, world)
    await _running(client, world, action_id)
    with psycopg.connect(postgresql, autocommit=False) as holder:
        holder.execute(
            "SELECT id FROM action_targets WHERE action_id = %s FOR UPDATE", (action_id,)
        )
        await asyncio.sleep(STALE + 1.5)
        body = (await client.get(f"/actions/{action_id}", headers=world.headers)).json()
        holder.rollback()
    assert body["status"] == "in-progress", body["status_reason_human_readable"]
    done = await _finished(client, world, [action_id], within=STEP_SECONDS + 30)
    assert done[action_id]["status"] == "completed", done[action_id]
    assert (await _step_output(app, action_id)).count("ran-once") == 1

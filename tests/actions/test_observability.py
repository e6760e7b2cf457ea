"""The request id that started an action follows it into the engine's log lines."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Action
from tests.actions.conftest import World, add_step, wait_action


async def test_request_id_is_carried_into_the_action(
    client: httpx.AsyncClient, db: AsyncSession, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await add_step(client, world, "echo traced")
    r = await client.post(
        f"/pipelines/{world.pipeline_id}/actions", json={},
        headers={**world.headers, "X-Request-Id": "trace-42"},
    )
    assert r.status_code == 201, r.text
    action_id = int(r.headers["X-Devopness-Action-Id"])
    action = await wait_action(client, world, action_id, 30)
    assert action["status"] == "completed"
    stored = await db.scalar(select(Action.triggered_from).where(Action.id == action_id))
    assert stored is not None and stored["request_id"] == "trace-42"
    engine_lines = [
        record for record in caplog.records
        if getattr(record, "request_id", None) == "trace-42"
        and not record.name.startswith(("devopness.access", "httpx"))
    ]
    assert engine_lines, "no engine log line carried the request id"


async def test_action_metrics(client: httpx.AsyncClient, world: World) -> None:
    await add_step(client, world, "echo measured")
    r = await client.post(f"/pipelines/{world.pipeline_id}/actions", json={},
                          headers=world.headers)
    assert r.status_code == 201, r.text
    await wait_action(client, world, int(r.headers["X-Devopness-Action-Id"]), 30)
    text = (await client.get("/metrics")).text
    assert 'devopness_actions_started_total{operation="deploy",resource_type="application"}' in text
    assert ('devopness_actions_finished_total{operation="deploy",resource_type="application",'
            'status="completed"}') in text
    assert "devopness_action_duration_seconds_bucket" in text
    assert "devopness_steps_running" in text
    assert "devopness_actions_queued 0.0" in text
    log_bytes = [line for line in text.splitlines()
                 if line.startswith("devopness_log_bytes_total ")]
    assert log_bytes and float(log_bytes[0].split()[1]) > 0

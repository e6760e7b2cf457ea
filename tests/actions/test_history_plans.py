"""The engine's per-action queries stay off the history of every action ever run.

A production database holds millions of step rows. A query that an action runs before it
starts and that PostgreSQL answers by reading all of them costs more with every deploy
(the look-up of steps that may have left processes running read the whole table: seen in
the fan-out benchmark). Here a history of 200,000 finished steps is written, the planner
is given its statistics, and each such query's plan must not scan the steps' table."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.core.settings import Settings
from tests.actions.conftest import World, add_step, run_pipeline
from workers.engine.plans import left_running

HISTORY_STEPS = 200_000


async def test_a_new_action_does_not_read_the_steps_history(
    client: httpx.AsyncClient, world: World, app: Any, settings: Settings
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("query plans of PostgreSQL, the production database "
                    "(set TEST_DATABASE_URL; the PostgreSQL pass runs it)")
    await add_step(client, world, "echo history")
    action = await run_pipeline(client, world)
    assert action["status"] == "completed", action
    target = action["targets"][0]
    async with app.state.database.transaction() as session:
        await session.execute(text(
            'INSERT INTO action_steps (action_id, action_target_id, "order", name, command, '
            "timeout_seconds, status, status_reason_code, log_chunks, log_bytes, created_at, "
            "updated_at) SELECT :action, :target, 100 + g, 'old', 'true', 600, 'completed', "
            "'COMPLETED', 0, 0, now(), now() FROM generate_series(1, :n) g"
        ), {"action": action["id"], "target": target["id"], "n": HISTORY_STEPS})
    async with app.state.database.transaction() as session:
        await session.execute(text("ANALYZE action_steps"))
        await session.execute(text("ANALYZE action_targets"))
        statement = left_running(action["id"] + 1, [target["resource_id"], 102, 103])
        compiled = statement.compile(
            dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
        plan = "\n".join(
            (await session.scalars(text(f"EXPLAIN {compiled}"))).all()
        )
    assert "Seq Scan on action_steps" not in plan, plan

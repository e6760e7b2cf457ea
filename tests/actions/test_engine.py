"""The engine end to end through the API, on a real loopback SSH server (in-process runner)."""

from __future__ import annotations

import httpx

from tests.actions.conftest import World, add_step, run_pipeline, step_log


async def test_steps_run_in_order_and_logs_are_stored(
    client: httpx.AsyncClient, world: World
) -> None:
    await add_step(client, world, "echo first-step; echo to-stderr >&2")
    await add_step(client, world, "echo second-step $((20+22))")
    action = await run_pipeline(client, world)
    assert action["status"] == "completed", action
    assert action["status_reason_code"] == "COMPLETED"
    assert action["summary"]["targets"] == {
        "count": 1, "pending": 0, "in_progress": 0, "completed": 1, "failed": 0
    }
    target = action["targets"][0]
    assert [s["status"] for s in target["steps"]] == ["completed", "completed"]
    first = await step_log(client, world, action, order=1)
    assert "first-step" in first["step"]["output"]
    assert "to-stderr" in first["step"]["output"]
    assert first["step"]["completed_at"] is not None
    second = await step_log(client, world, action, order=2)
    assert "second-step 42" in second["step"]["output"]


async def test_failing_step_fails_target_and_skips_the_rest(
    client: httpx.AsyncClient, world: World
) -> None:
    await add_step(client, world, "echo before; exit 3")
    await add_step(client, world, "echo never-runs")
    action = await run_pipeline(client, world)
    assert action["status"] == "failed"
    steps = action["targets"][0]["steps"]
    assert [s["status"] for s in steps] == ["failed", "skipped"]
    assert "exit code 3" in steps[0]["status_reason_human_readable"]
    assert action["summary"]["targets"]["failed"] == 1
    log = await step_log(client, world, action, order=2)
    assert log["step"]["output"] == ""

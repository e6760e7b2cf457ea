"""The engine end to end through the API, on a real loopback SSH server (in-process runner)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.core.settings import Settings
from tests.actions import fs
from tests.actions.conftest import World, add_step, run_pipeline, step_log, wait_action
from tests.actions.ssh_servers import ShellSSHServer
from tests.actions.test_workers import _create_action
from workers.engine.executor import run_action


async def test_steps_run_in_order_and_logs_are_stored(
    client: httpx.AsyncClient, world: World
) -> None:
    await add_step(client, world, "echo first-step; echo to-stderr >&2")
    await add_step(client, world, "echo second-step $((20+22))")
    action = await run_pipeline(client, world)
    assert action["status"] == "completed", action
    assert action["status_reason_code"] == "COMPLETED"
    assert action["environment"]["id"] == world.environment_id
    assert action["project"]["id"] == world.project.id
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


async def test_step_timeout_kills_the_remote_process_group(
    client: httpx.AsyncClient, world: World, tmp_path: object
) -> None:
    import uuid

    marker = f"/tmp/dvp-timeout-{uuid.uuid4().hex}"
    await add_step(
        client, world, f"(sleep 3; touch {marker}) & sleep 30", timeout_seconds=1
    )
    action = await run_pipeline(client, world)
    step = action["targets"][0]["steps"][0]
    assert action["status"] == "failed"
    assert step["status"] == "failed"
    assert "timed out after 1 seconds" in step["status_reason_human_readable"]
    import asyncio

    await asyncio.sleep(3.5)
    # The background child was in the step's process group: it died with it.
    assert not fs.exists(marker)


async def test_unreachable_host_fails_target_with_reason_in_log(
    client: httpx.AsyncClient, world: World
) -> None:
    from tests.actions.ssh_servers import free_port

    world.servers.add(101, free_port())  # nothing listens there
    await add_step(client, world, "echo unreachable")
    action = await run_pipeline(client, world)
    target = action["targets"][0]
    assert action["status"] == "failed"
    assert target["status"] == "failed"
    assert "Could not connect to 127.0.0.1" in target["status_reason_human_readable"]
    log = await step_log(client, world, action)
    assert "Could not connect" in log["step"]["output"]


async def test_host_key_is_pinned_and_a_changed_key_fails(
    client: httpx.AsyncClient, world: World, shell_server: object
) -> None:
    from tests.actions.ssh_servers import ShellSSHServer

    assert isinstance(shell_server, ShellSSHServer)
    await add_step(client, world, "echo pinned-host")
    action = await run_pipeline(client, world)
    assert action["status"] == "completed"
    assert world.servers.pinned[101] == shell_server.public_host_key

    impostor = await ShellSSHServer(shell_server.client_key).start()
    try:
        world.servers.add(101, impostor.port, host_key=shell_server.public_host_key)
        action = await run_pipeline(client, world)
    finally:
        await impostor.stop()
    target = action["targets"][0]
    assert target["status"] == "failed"
    assert "host key changed" in target["status_reason_human_readable"]


async def test_secret_values_never_reach_stored_logs(
    client: httpx.AsyncClient, world: World
) -> None:
    secret = "s3cr3t-Value-42"
    world.servers.secrets.append(secret)
    # Printed whole, and split across two writes so it straddles read boundaries.
    await add_step(
        client, world,
        f"echo 'token={secret}'; printf 's3cr3t-'; sleep 0.3; printf 'Value-42\\n'",
    )
    action = await run_pipeline(client, world)
    assert action["status"] == "completed"
    output = (await step_log(client, world, action))["step"]["output"]
    assert secret not in output
    assert output.count("********") == 2


async def test_targets_run_concurrently_on_many_servers(
    client: httpx.AsyncClient, world: World, shell_server: object
) -> None:
    import time

    from tests.actions.ssh_servers import ShellSSHServer

    assert isinstance(shell_server, ShellSSHServer)
    for server_id in range(201, 206):
        world.servers.add(server_id, shell_server.port)
    world.app_servers[:] = list(range(201, 206))
    await add_step(client, world, "sleep 1; echo done-$$")
    started = time.monotonic()
    action = await run_pipeline(client, world)
    assert action["status"] == "completed"
    assert action["summary"]["targets"]["completed"] == 5
    assert time.monotonic() - started < 4  # not 5 x 1 s in a row


async def test_pipeline_action_can_pick_servers(
    client: httpx.AsyncClient, world: World, shell_server: object
) -> None:
    from tests.actions.ssh_servers import ShellSSHServer

    assert isinstance(shell_server, ShellSSHServer)
    world.servers.add(102, shell_server.port)
    world.app_servers[:] = [101, 102]
    await add_step(client, world, "echo only-one-server")
    action = await run_pipeline(client, world, servers=[102])
    assert [t["resource_id"] for t in action["targets"]] == [102]
    response = await client.post(
        f"/pipelines/{world.pipeline_id}/actions", json={"servers": [999]},
        headers=world.headers,
    )
    assert response.status_code == 422
    assert "servers" in response.json()["errors"]


async def test_engine_offers_aes_gcm_first_and_follows_the_setting(
    client: httpx.AsyncClient, world: World, shell_server: ShellSSHServer,
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await add_step(client, world, "echo connected")
    shell_server.ciphers.clear()
    action = await run_pipeline(client, world)
    assert action["status"] == "completed", action["status_reason_human_readable"]
    assert shell_server.ciphers == ["aes128-gcm@openssh.com"]

    monkeypatch.setattr(settings, "ssh_encryption_algs", "chacha20-poly1305@openssh.com")
    shell_server.ciphers.clear()
    action = await run_pipeline(client, world)
    assert action["status"] == "completed", action["status_reason_human_readable"]
    assert shell_server.ciphers == ["chacha20-poly1305@openssh.com"]


def test_cipher_setting_accepts_only_current_ciphers() -> None:
    assert Settings(
        _env_file=None, ssh_encryption_algs=" aes256-gcm@openssh.com , aes128-ctr"
    ).ssh_encryption_algs == "aes256-gcm@openssh.com,aes128-ctr"
    for weak in ("arcfour", "3des-cbc", "aes128-cbc", "nonsense", " , "):
        with pytest.raises(ValidationError, match="unsupported cipher"):
            Settings(_env_file=None, ssh_encryption_algs=weak)


async def test_an_action_ends_without_waiting_for_the_write_interval(
    client: httpx.AsyncClient, world: World, app: Any, settings: Settings
) -> None:
    """State is committed in batches every ENGINE_WRITE_INTERVAL_SECONDS; once every target
    is done nothing more joins the batch, so the action's end is not held back by it."""
    await add_step(client, world, "echo quick")
    action_id = await _create_action(app, world, world.project.user_id)
    slow_batches = settings.model_copy(update={"engine_write_interval_seconds": 120.0})
    status = await asyncio.wait_for(
        run_action(app.state.database, action_id, settings=slow_batches), 60
    )
    assert status == "completed"
    done = await wait_action(client, world, action_id, wait=0)
    assert done["status"] == "completed"
    assert "quick" in (await step_log(client, world, done, order=1))["step"]["output"]

"""The engine against the system's OpenSSH sshd (skipped only where sshd is absent)."""

from __future__ import annotations

import uuid

import httpx

from tests.actions import fs
from tests.actions.conftest import World, add_step, run_pipeline, step_log
from tests.actions.ssh_servers import OpenSSHServer


async def test_steps_on_openssh_with_cancel_of_process_group(
    client: httpx.AsyncClient, world: World, openssh_server: OpenSSHServer
) -> None:
    world.servers.add(101, openssh_server.port)
    await add_step(client, world, "echo via-openssh; id -un; exit 0")
    await add_step(client, world, "echo second; exit 4")
    action = await run_pipeline(client, world)
    assert action["status"] == "failed"
    steps = action["targets"][0]["steps"]
    assert [s["status"] for s in steps] == ["completed", "failed"]
    assert "via-openssh" in (await step_log(client, world, action))["step"]["output"]
    assert world.servers.pinned[101].startswith("ssh-ed25519 ")


async def test_timeout_on_openssh_kills_children(
    client: httpx.AsyncClient, world: World, openssh_server: OpenSSHServer
) -> None:
    import asyncio

    world.servers.add(101, openssh_server.port)
    marker = f"/tmp/dvp-ossh-{uuid.uuid4().hex}"
    await add_step(client, world, f"(sleep 2; touch {marker}) & sleep 30", timeout_seconds=1)
    action = await run_pipeline(client, world)
    assert action["status"] == "failed"
    assert "timed out" in action["targets"][0]["steps"][0]["status_reason_human_readable"]
    await asyncio.sleep(2.5)
    assert not fs.exists(marker)

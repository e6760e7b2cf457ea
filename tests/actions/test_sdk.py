"""The official SDK runs a custom pipeline step on a real sshd and reads its log."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from devopness import DevopnessClient
from devopness.models import ActionPipelineCreate, StepPipelineCreate

from app.core.settings import Settings
from tests.actions.conftest import APP_ID, World
from tests.actions.ssh_servers import OpenSSHServer
from tests.conftest import ROOT, free_port
from tests.live import api_process


@pytest.fixture
def engine_server(
    settings: Settings, world: World, openssh_server: OpenSSHServer, tmp_path: Path
) -> Iterator[str]:
    """The API as its own process, with the embedded runner reaching the loopback sshd."""
    access = world.servers.access[101]
    access_file = tmp_path / "access.json"
    access_file.write_text(json.dumps({
        "servers": {"101": {
            "server_id": 101, "host": "127.0.0.1", "port": openssh_server.port,
            "username": access.username, "private_key": access.private_key,
            "hostname": "sdk-server", "os_version_code": "ubuntu_24_04",
        }},
        "application_servers": [101],
    }))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key,
        "PUBLIC_URL": url, "LOG_LEVEL": "WARNING", "ENGINE_PLUGINS": "tests.actions.plugin",
        "DVP_TEST_ACCESS_FILE": str(access_file), "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)
    with api_process(env, port, start_seconds=30):
        yield url


def _run_with_sdk(url: str, token: str) -> dict[str, Any]:
    sdk = DevopnessClient({"base_url": url, "api_token": token, "strict_validation_mode": True})
    [pipeline] = sdk.pipelines.list_pipelines_by_resource_type(APP_ID, "application").data
    step = sdk.pipelines.add_pipeline_step(
        pipeline.id,
        StepPipelineCreate(name="Say hello", command="echo hello-from-the-sdk; uname -s",
                           runner="custom"),
    )
    assert step.status == 201
    started = sdk.actions.add_pipeline_action(
        pipeline.id, ActionPipelineCreate(trigger_comment="run by the SDK")
    )
    assert started.status == 201
    action_id = started.data.id
    deadline = time.monotonic() + 30
    while True:
        action = sdk.actions.get_action(action_id).data
        if action.status.value in ("completed", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert action.targets
    target = action.targets[0]
    log = sdk.actions.get_action_log(action_id, 1, target.id).data
    return {"status": action.status.value, "output": log.step.output if log.step else None}


async def test_sdk_runs_a_custom_step_and_reads_its_log(
    engine_server: str, world: World
) -> None:
    # The SDK is synchronous; keep this loop free for the test fixtures.
    result = await asyncio.to_thread(_run_with_sdk, engine_server, world.token)
    assert result["status"] == "completed", result
    assert "hello-from-the-sdk" in result["output"]
    assert "Linux" in result["output"]

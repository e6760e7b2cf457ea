"""A restart of the API while clients follow an action: a real `devopness-server serve`
gets SIGTERM with a `?wait=` request and an SSE log stream open. It exits within the
bound, the waiter gets the action's current state, and the stream, resumed with
Last-Event-ID on a new process, has every line once and in order."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.core.settings import Settings
from tests.actions.conftest import World, add_step
from tests.actions.ssh_servers import ShellSSHServer
from tests.actions.test_faults_broker import (  # noqa: F401
    RedisServer,
    redis_server,
    workers,
)
from tests.actions.test_workers import _access_file, _spawn, _worker_env
from tests.conftest import free_port

LINES = 80  # 12 s: longer than the shutdown bound
SHUTDOWN_BOUND = 10.0  # the documented default bound


async def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = _spawn([sys.executable, "-m", "launcher.cli", "serve", "--port", str(port)], env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as probe:
        while True:
            try:
                if (await probe.get(f"{url}/healthz", timeout=1)).status_code == 200:
                    return proc, url
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "serve did not start"
            await asyncio.sleep(0.1)


def _events(text: str) -> list[tuple[int | None, str, str]]:
    found = []
    for block in text.split("\n\n"):
        fields = dict(re.findall(r"^(id|event|data): (.*)$", block, re.MULTILINE))
        if "event" in fields:
            event_id = int(fields["id"]) if "id" in fields else None
            found.append((event_id, fields["event"], fields.get("data", "")))
    return found


async def test_sigterm_answers_followers_and_the_stream_resumes_elsewhere(
    client: httpx.AsyncClient, world: World, settings: Settings, tmp_path: Path,
    shell_server: ShellSSHServer, redis_server: RedisServer,  # noqa: F811
    workers: list[subprocess.Popen[bytes]],  # noqa: F811
) -> None:
    await add_step(client, world, f"for i in $(seq 1 {LINES}); do echo line-$i; sleep 0.15; done")
    env = _worker_env(settings, _access_file(tmp_path, world, shell_server),
                      REDIS_URL=redis_server.url)
    first, url = await _serve(env)
    second: subprocess.Popen[bytes] | None = None
    try:
        async with httpx.AsyncClient(base_url=url, headers=world.headers, timeout=60) as api:
            started = await api.post(f"/pipelines/{world.pipeline_id}/actions", json={})
            assert started.status_code == 201, started.text
            action_id = int(started.headers["X-Devopness-Action-Id"])
            target_id = started.json()["targets"][0]["id"]
            stream_path = f"/actions/{action_id}/targets/{target_id}/steps/1/logs/stream"

            waiter = asyncio.create_task(api.get(f"/actions/{action_id}", params={"wait": 120}))
            received: list[str] = []

            async def follow() -> None:
                async with api.stream("GET", stream_path) as response:
                    assert response.status_code == 200
                    async for text in response.aiter_text():
                        received.append(text)

            follower = asyncio.create_task(follow())
            deadline = time.monotonic() + 60
            while "".join(received).count("event: log") < 3:
                assert time.monotonic() < deadline, "the step's output never arrived"
                await asyncio.sleep(0.05)

            began = time.monotonic()
            first.send_signal(signal.SIGTERM)
            await asyncio.to_thread(first.wait, 30)
            assert time.monotonic() - began < SHUTDOWN_BOUND
            answered = await waiter
            assert answered.status_code == 200
            assert answered.json()["status"] == "in-progress"  # its state when told
            await follower  # closed by the server, not cut

        before = _events("".join(received))
        assert before and all(kind == "log" for _, kind, _ in before)
        last_id = before[-1][0]
        assert last_id is not None

        second, url = await _serve(env)
        async with (
            httpx.AsyncClient(base_url=url, headers=world.headers, timeout=60) as api,
            api.stream("GET", stream_path, headers={"Last-Event-ID": str(last_id)}) as response,
        ):
            assert response.status_code == 200
            rest = _events("".join([text async for text in response.aiter_text()]))
        assert rest[-1][1] == "end"
        output = "".join(
            data for _, kind, data in [*before, *rest] if kind == "log"
        ).replace('{"output": "', "").replace('"}', "").replace("\\n", "\n")
        assert re.findall(r"line-\d+", output) == [f"line-{i}" for i in range(1, LINES + 1)]
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)

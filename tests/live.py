"""A real API process for tests that drive it as clients do (the SDK, the MCP server)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.conftest import ROOT


@contextmanager
def api_process(
    env: dict[str, str], port: int, *, start_seconds: float, log_level: str = "warning"
) -> Iterator[subprocess.Popen[bytes]]:
    """`uvicorn launcher.api:create_app` on 127.0.0.1:`port`, ready once an anonymous
    `/users/me` answers 401; stopped (terminate, then kill) when the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "launcher.api:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level],
        cwd=ROOT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_seconds
    while True:
        try:
            if httpx.get(f"{url}/users/me", timeout=1).status_code == 401:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the API process on {url} did not start")
        time.sleep(0.1)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()

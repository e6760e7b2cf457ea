"""SIGTERM: the API stops accepting connections and finishes the requests in flight."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, free_port


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "launcher.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_in_flight_request_completes_after_sigterm(tmp_path: Path) -> None:
    db_path = tmp_path / "shutdown.db"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{db_path}", SECRET_KEY="shutdown-test-key")
    token = _cli(
        env,
        "create-user",
        "--email",
        "s@example.com",
        "--password",
        "long-password",
        "--name",
        "Shut Down",
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "launcher.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**env, "LOG_FORMAT": "json"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)

        # Hold the database's write lock: the request's token bookkeeping must wait for it,
        # so the request is still in flight when SIGTERM arrives.
        blocker = sqlite3.connect(db_path, timeout=30)
        blocker.execute("BEGIN EXCLUSIVE")
        outcome: dict[str, object] = {}

        def call() -> None:
            try:
                outcome["response"] = httpx.get(
                    f"{url}/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
                )
            except Exception as exc:  # pragma: no cover - reported below
                outcome["error"] = exc

        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(1.0)
        assert caller.is_alive(), outcome
        server.send_signal(signal.SIGTERM)
        time.sleep(0.5)

        # New connections are refused while the old request drains.
        refused = False
        try:
            httpx.get(f"{url}/healthz", timeout=1)
        except httpx.TransportError:
            refused = True
        assert refused, "the server still accepted new connections after SIGTERM"

        blocker.rollback()
        blocker.close()
        caller.join(timeout=30)
        response = outcome.get("response")
        assert isinstance(response, httpx.Response), outcome
        assert response.status_code == 200
        # uvicorn re-raises SIGTERM once drained, so "terminated by SIGTERM" is a clean exit.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
        _, stderr = server.communicate(timeout=10)
    # Every log line the server wrote is one JSON object; none carries the token.
    log = stderr.decode()
    assert token not in log
    assert "Application shutdown complete" in log
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["message"] is not None for line in lines)

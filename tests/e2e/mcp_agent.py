"""Fixtures that put the official MCP server between a test and our server, as an agent has it.

`mcp_venv` installs `devopness-mcp-server` (see `tests/e2e/mcp_venv.py`); `McpAgent` starts
the client driver (`tests/e2e/mcp_driver.py`) in that venv, which starts the MCP server over
stdio (or reaches one over streamable HTTP), and calls tools one at a time.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import mcp_venv

DRIVER = Path(__file__).with_name("mcp_driver.py")
REPLY_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def mcp_server_venv() -> Path:
    venv, reason = mcp_venv.ensure()
    if venv is None:
        # `.ci/run` installs it and says so; CI must not pass by skipping.
        if os.environ.get("DEVOPNESS_MCP_REQUIRED"):
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)
    return venv


def mcp_environment(api_url: str, token: str, transport: str) -> dict[str, str]:
    """What a user sets to point the MCP server at this server. It refuses to start without
    its OAuth variables even on stdio, where they are never used."""
    unused = "http://127.0.0.1:9/unused"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DEVOPNESS_API_URL": api_url,
        "DEVOPNESS_APP_URL": api_url,
        "DEVOPNESS_PERSONAL_ACCESS_TOKEN": token,
        "DEVOPNESS_MCP_SERVER_TRANSPORT": transport,
    }
    for name in ("URL", "REGISTER_URL", "AUTHORIZE_URL", "TOKEN_URL"):
        env[f"DEVOPNESS_MCP_SERVER_{name}"] = unused
    for name in ("URL", "REGISTER_URL", "AUTHORIZE_URL", "TOKEN_URL", "INTROSPECTION_URL"):
        env[f"DEVOPNESS_MCP_AUTH_SERVER_{name}"] = unused
    return env


@dataclass
class ToolResult:
    is_error: bool
    text: str
    structured: dict[str, Any] | None

    @property
    def response(self) -> dict[str, Any]:
        """The MCP server's own envelope: {status, data, instructions, formatted, next_page}."""
        assert not self.is_error, self.text
        if self.structured is not None:
            body = self.structured.get("result", self.structured)
        else:
            body = json.loads(self.text)
        assert isinstance(body, dict), self.text
        return body

    @property
    def data(self) -> Any:
        body = self.response
        assert body["status"] == "ok", body
        return body["data"]


@dataclass
class McpAgent:
    """One MCP client session; `call` is one tool call as an agent makes it."""

    process: subprocess.Popen[str]
    ready: dict[str, Any]
    stderr: list[str] = field(default_factory=list)
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, venv: Path, mode: str, target: str, env: dict[str, str], cwd: Path
              ) -> McpAgent:
        process = subprocess.Popen(
            [str(mcp_venv.python_in(venv)), str(DRIVER), mode, target],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env, cwd=cwd,
        )
        agent = cls(process=process, ready={})
        threading.Thread(target=agent._pump_stdout, daemon=True).start()
        threading.Thread(target=agent._pump_stderr, daemon=True).start()
        first = agent._reply()
        if "ready" not in first:
            agent.close()
            raise McpStartError(first.get("error", "no answer"), "".join(agent.stderr))
        agent.ready = first["ready"]
        return agent

    def _pump_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def _reply(self) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=REPLY_TIMEOUT)
        except queue.Empty:
            raise AssertionError("the MCP client did not answer:\n" + self.log()) from None
        if line is None:
            raise AssertionError("the MCP client exited:\n" + self.log())
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _send(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = self._reply()
        if "error" in reply:
            raise AssertionError(f"{reply['error']}\n{reply.get('traceback', '')}")
        return reply

    def log(self) -> str:
        return "".join(self.stderr[-80:])

    def tools(self) -> dict[str, dict[str, Any]]:
        listed = self._send({"op": "list_tools"})["tools"]
        return {tool["name"]: tool["inputSchema"] for tool in listed}

    def call(self, tool: str, **args: Any) -> ToolResult:
        reply = self._send({"op": "call", "tool": tool, "args": args})
        return ToolResult(reply["isError"], reply["text"], reply["structured"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class McpStartError(Exception):
    def __init__(self, error: str, log: str) -> None:
        super().__init__(f"{error}\n{log}")
        self.error = error


@pytest.fixture
def mcp_workdir(tmp_path: Path) -> Path:
    # The MCP server reads a `.env` file when it finds one: an empty directory has none.
    workdir = tmp_path / "mcp"
    workdir.mkdir()
    return workdir


def stdio_agent(venv: Path, api_url: str, token: str, workdir: Path) -> Iterator[McpAgent]:
    agent = McpAgent.start(venv, "stdio", str(mcp_venv.server_command(venv)),
                           mcp_environment(api_url, token, "stdio"), workdir)
    try:
        yield agent
    finally:
        agent.close()

"""An MCP client (the `mcp` library) that the tests steer line by line; runs in the MCP venv.

The `mcp` client library is installed beside `devopness-mcp-server` in its Python >= 3.12
venv (see `tests/e2e/mcp_venv.py`), so the client side runs there too and the tests talk to
it through JSON lines on stdin/stdout:

    {"op": "list_tools"}                       -> {"tools": [{"name", "inputSchema"}, ...]}
    {"op": "call", "tool": NAME, "args": {..}} -> {"isError", "text", "structured"}

Usage: `python mcp_driver.py stdio COMMAND` (starts the MCP server over stdio with this
process's environment) or `python mcp_driver.py http URL` (streamable HTTP, with the bearer
token from DEVOPNESS_MCP_DRIVER_TOKEN). The first line written is `{"ready": {...}}` with
the server's initialize answer, or `{"error": ...}` when the session could not start.
The client accepts every elicitation, like a user who confirms what the agent proposes.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from contextlib import AsyncExitStack
from typing import Any

import anyio
import mcp.types as types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamablehttp_client

OUT = sys.stdout


def emit(payload: dict[str, Any]) -> None:
    OUT.write(json.dumps(payload, default=str) + "\n")
    OUT.flush()


async def accept(_context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={})


async def serve(session: ClientSession) -> None:
    while True:
        line = await anyio.to_thread.run_sync(sys.stdin.readline)
        if not line:
            return
        request = json.loads(line)
        try:
            if request["op"] == "list_tools":
                listed = await session.list_tools()
                emit({"tools": [
                    {"name": tool.name, "inputSchema": tool.inputSchema} for tool in listed.tools
                ]})
            elif request["op"] == "call":
                result = await session.call_tool(request["tool"], request.get("args") or {})
                text = "\n".join(
                    block.text for block in result.content if isinstance(block, types.TextContent)
                )
                emit({"isError": result.isError, "text": text,
                      "structured": result.structuredContent})
            else:
                emit({"error": f"unknown op {request['op']!r}"})
        except Exception as error:  # the test reads what went wrong instead of a dead pipe
            emit({"error": f"{type(error).__name__}: {error}",
                  "traceback": traceback.format_exc()})


async def main(mode: str, target: str) -> None:
    async with AsyncExitStack() as stack:
        try:
            if mode == "stdio":
                read, write = await stack.enter_async_context(stdio_client(
                    StdioServerParameters(command=target, args=[], env=dict(os.environ),
                                          cwd=os.getcwd())
                ))
            else:
                token = os.environ["DEVOPNESS_MCP_DRIVER_TOKEN"]
                read, write, _ = await stack.enter_async_context(streamablehttp_client(
                    target, headers={"Authorization": f"Bearer {token}"}, timeout=20
                ))
            session = await stack.enter_async_context(ClientSession(
                read, write, elicitation_callback=accept,
                client_info=types.Implementation(name="devopness-server-tests", version="1"),
            ))
            initialized = await session.initialize()
        except BaseException as error:
            emit({"error": f"{type(error).__name__}: {error}",
                  "traceback": traceback.format_exc()})
            return
        emit({"ready": initialized.model_dump(mode="json")})
        await serve(session)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])

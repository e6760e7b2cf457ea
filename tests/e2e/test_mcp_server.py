"""The official Devopness MCP server (`devopness-mcp-server`) pointed at our server, driven
through the `mcp` client library the way an agent drives it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Mailbox, free_port
from tests.e2e.conftest import LiveServer, sign_up_and_log_in
from tests.e2e.mcp_agent import McpAgent, mcp_server_venv, stdio_agent  # noqa: F401


@dataclass
class World:
    """What a user sets up in the web app before asking an agent for help."""

    token: str
    project_id: int
    environment_id: int
    credential_id: int
    server_id: int


@pytest.fixture(scope="module")
def world(live_server: LiveServer, smtp: tuple[Mailbox, int]) -> World:
    mailbox, _ = smtp
    access = sign_up_and_log_in(live_server, mailbox, "mcp-agent@example.com", "mcp-password-16")
    with httpx.Client(base_url=live_server.url, headers={
        "Accept": "application/json", "Authorization": f"Bearer {access}",
    }) as http:
        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            r = http.post(path, json=body)
            assert r.status_code in (200, 201), (path, r.text)
            answer: dict[str, Any] = r.json()
            return answer

        in_30_days = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        token = post("/users/personal-access-tokens",
                     {"name": "mcp", "expires_at": in_30_days})["token"]
        org = post("/organizations", {"name": "Agent Org", "url_slug": "agent-org"})
        project = post(f"/organizations/{org['id']}/projects", {"name": "Agent"})
        env = post(f"/projects/{project['id']}/environments",
                   {"type": "production", "name": "prod"})
        credential = post(f"/environments/{env['id']}/credentials", {
            "name": "github", "provider_code": "github", "provider_type": "source_provider",
            "active": True,
            "settings": {"credential": {"auth_type": "api_credentials",
                                        "access_token": "ghp_not-a-real-token"}},
        })
        # Nothing listens on this port: actions run and fail at connect, with a log to read.
        server = post(f"/environments/{env['id']}/servers", {
            "hostname": "web-1", "ip_address": "127.0.0.1", "ssh_port": free_port(),
            "provision_input": {"cloud_service_code": "self-hosted-custom",
                                "settings": {"os_version_code": "ubuntu_24_04"}},
        })
    return World(token, project["id"], env["id"], credential["id"], server["id"])


@pytest.fixture(scope="module")
def agent(
    mcp_server_venv: Path, live_server: LiveServer, world: World,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[McpAgent]:
    yield from stdio_agent(mcp_server_venv, live_server.url, world.token,
                           tmp_path_factory.mktemp("mcp"))


def test_explore(agent: McpAgent, world: World) -> None:
    tools = agent.tools()
    print(sorted(tools))
    r = agent.call("devopness_list_projects")
    print(r)
    r = agent.call("devopness_list_credentials", project_id=world.project_id,
                   environment_id=world.environment_id)
    print(r)
    print(json.dumps(agent.ready)[:300])

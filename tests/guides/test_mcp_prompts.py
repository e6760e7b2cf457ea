"""The guides' "Using Devopness MCP" prompts the official MCP server has tools for, carried
out as an agent does: the tool calls the prompt needs, through the MCP server, against the
guide server. One prompt per section; the MCP server offers no tools for organizations,
teams, roles, API tokens or SSH keys (see README)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.mcp_agent import McpAgent, mcp_server_venv, stdio_agent
from tests.guides.conftest import Guide, GuideServer

__all__ = ["mcp_server_venv"]


@pytest.fixture
def person(guide: Guide) -> Guide:
    _, token = guide.user()
    return guide.as_other(token)


@pytest.fixture
def agent(
    mcp_server_venv: Path, guide_server: GuideServer, person: Guide,
    tmp_path: Path,
) -> Iterator[McpAgent]:
    workdir = tmp_path / "mcp"
    workdir.mkdir()
    yield from stdio_agent(mcp_server_venv, guide_server.url, person.token, workdir)


def test_list_projects_and_list_environments_prompts(person: Guide, agent: McpAgent) -> None:
    """projects/list-projects: "List projects in organization `acme`"."""
    org = person.organization()
    first, second = person.project(org.id), person.project(org.id)

    projects = agent.call("devopness_list_projects").data
    assert sorted(p["name"] for p in projects) == sorted([first.name, second.name])

    # environments/list-environments: "List the environments in the `acme-platform` project"
    production = person.environment(first.id, "production")
    environments = agent.call("devopness_list_environments", project_id=first.id).data
    assert [e["name"] for e in environments] == [production.name]

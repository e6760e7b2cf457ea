"""applications/list-applications: the applications of one environment, searched by name;
and the guide's MCP prompt "List the applications in the Production environment"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.mcp_agent import McpAgent, mcp_server_venv, stdio_agent
from tests.guides.conftest import Guide, GuideServer

__all__ = ["mcp_server_venv"]


def test_list_applications(guide: Guide) -> None:
    where = guide.workspace()
    api = guide.application(where)
    worker = guide.application(where)
    elsewhere = guide.workspace()
    guide.application(elsewhere)

    # Application names you can open, of the environment selected.
    listed = guide.c.applications.list_environment_applications(where.env.id).data
    assert sorted((a.id, a.name) for a in listed) == sorted(
        [(api.id, api.name), (worker.id, worker.name)])
    assert guide.c.applications.get_application(listed[0].id).data.name == listed[0].name

    # Search by name when the list is long.
    found = guide.c.applications.list_environment_applications(
        where.env.id, filter={"name": worker.name.upper()}).data
    assert [a.id for a in found] == [worker.id]


@pytest.fixture
def agent(mcp_server_venv: Path, guide_server: GuideServer, tmp_path: Path
          ) -> Iterator[McpAgent]:
    workdir = tmp_path / "mcp"
    workdir.mkdir()
    yield from stdio_agent(mcp_server_venv, guide_server.url, guide_server.token, workdir)


def test_list_applications_prompt(guide: Guide, agent: McpAgent) -> None:
    """"List the applications in the Production environment of `acme-platform`"."""
    org = guide.organization()
    project = guide.project(org.id)
    production = guide.environment(project.id, "production")
    from tests.guides.conftest import Workspace

    application = guide.application(Workspace(org, project, production))
    listed = agent.call("devopness_list_applications", project_id=project.id,
                        environment_id=production.id).data
    assert [(a["id"], a["name"]) for a in listed] == [(application.id, application.name)]

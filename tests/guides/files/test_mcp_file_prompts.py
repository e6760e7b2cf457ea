"""The files guides' "Using Devopness MCP" prompts the official MCP server has tools for,
carried out as an agent does, through the MCP server against the guide server:

- files/add-file: "... add a `.env` file to the `acme-api` application ... with
  `DATABASE_URL` and `API_KEY`" (`devopness_create_application_config_file`);
- files/view-file: "... list the configuration files of `acme-web` ... and show the one
  named ..." (`devopness_list_application_config_files`,
  `devopness_get_application_config_file`);
- files/edit-file: "... update the `DATABASE_URL` in the `.env` file of `acme-api` ..."
  (`devopness_edit_application_config_file`).

The MCP server has no tool to remove a configuration file (see README)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.mcp_agent import McpAgent, mcp_server_venv, stdio_agent
from tests.guides.conftest import Guide, GuideServer

__all__ = ["mcp_server_venv"]

CONTENT = "DATABASE_URL=postgres://user:pass@host:5432/acme\nAPI_KEY=your-api-key\n"


@pytest.fixture
def person(guide: Guide) -> Guide:
    _, token = guide.user()
    return guide.as_other(token)


@pytest.fixture
def agent(mcp_server_venv: Path, guide_server: GuideServer, person: Guide,
          tmp_path: Path) -> Iterator[McpAgent]:
    workdir = tmp_path / "mcp"
    workdir.mkdir()
    yield from stdio_agent(mcp_server_venv, guide_server.url, person.token, workdir)


def test_add_view_and_edit_file_prompts(person: Guide, agent: McpAgent) -> None:
    where = person.workspace()
    application = person.application(where)
    tools = agent.tools()
    assert not any("delete" in t and "config_file" in t for t in tools), (
        "the MCP server can now remove a file: carry out the remove-file prompt too")
    on = {"project_id": where.project.id, "environment_id": where.env.id,
          "application_id": application.id}

    created = agent.call("devopness_create_application_config_file", **on,
                         file_path=".env", file_content=CONTENT).data
    files = person.c.variables.list_variables_by_resource_type(
        application.id, "application", variable_target="resource-config-file").data
    assert [(f.id, f.key) for f in files] == [(created["id"], ".env")]
    assert person.c.variables.get_variable(created["id"]).data.value == CONTENT

    listed = agent.call("devopness_list_application_config_files", **on).data
    assert [f["key"] for f in listed] == [".env"]
    shown = agent.call("devopness_get_application_config_file", **on,
                       config_file_id=listed[0]["id"]).data
    assert (shown["key"], shown["value"]) == (".env", CONTENT)

    revised = CONTENT.replace("host:5432", "db.internal:5432")
    agent.call("devopness_edit_application_config_file", **on, file_id=created["id"],
               file_path=".env", file_content=revised)
    assert person.c.variables.get_variable(created["id"]).data.value == revised

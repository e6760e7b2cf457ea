"""applications/deploy-application: deploy with the defaults (branch left blank, default
pipeline, no target server chosen), on the loopback machine; then deploy a commit, and
what the server shows: release folders and `current` on the live one. The guide's MCP
prompt "Deploy the `acme-api` application in Production using branch `main`" too."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.mcp_agent import McpAgent, mcp_server_venv, stdio_agent
from tests.guides.app_fixtures import FINISHED, Site
from tests.guides.conftest import GuideServer

__all__ = ["mcp_server_venv"]


def test_deploy_application(site: Site) -> None:
    c = site.guide.c
    application = site.application()
    assert application.servers == []
    page = f"<h1>{application.name} v1</h1>\n"
    commit = site.repo.commit({"public/index.html": page}, "v1")

    # Branch left blank, default pipeline, target servers omitted: the default branch, on
    # the server linked automatically on this first deploy.
    started = c.applications.add_application_deployment(application.id, {"type": "deploy"})
    action = site.finished(started.action_id)

    # The deploy action reaches `completed`, and appears in history with its commit.
    assert action.type == "deploy" and action.resource.id == application.id
    assert [t.resource_id for t in action.targets] == [site.server.id]
    assert action.action_data.commit.hash == commit
    history = c.actions.list_actions_by_resource_type(application.id, "application").data
    assert action.id in [a.id for a in history]
    # The server was linked on the way.
    linked = c.applications.get_application(application.id).data
    assert [s.id for s in linked.servers] == [site.server.id]

    # On the server: a release folder under ~/<name>/releases, and `current` points to it.
    app_dir = site.machine.home / application.name
    releases = sorted(os.listdir(app_dir / "releases"))
    assert len(releases) == 1
    assert os.readlink(app_dir / "current").endswith(f"releases/{releases[0]}")
    assert (app_dir / "current" / "public" / "index.html").read_text() == page

    # Branch, tag, or commit: a new commit, deployed by its hash.
    second = site.repo.commit({"public/index.html": f"<h1>{application.name} v2</h1>\n"},
                              "v2")
    started = c.applications.add_application_deployment(application.id, {
        "type": "deploy", "source_type": "commit", "source_ref": second,
    })
    action = site.finished(started.action_id)
    assert action.action_data.commit.hash == second
    releases = sorted(os.listdir(app_dir / "releases"))
    assert len(releases) == 2
    # `current` points to the latest successful release.
    assert os.readlink(app_dir / "current").endswith(f"releases/{action.action_data.release_name}")
    assert (app_dir / "current" / "public" / "index.html").read_text() == (
        f"<h1>{application.name} v2</h1>\n")


def test_release_folders_are_timestamped(site: Site) -> None:
    """`~/acme-api/releases/2026-06-15 13:45:10`: the deploy's time (UTC), and the release
    the deploy reports is that folder."""
    c = site.guide.c
    application = site.application()
    before = datetime.now(UTC).replace(microsecond=0)
    started = c.applications.add_application_deployment(application.id, {"type": "deploy"})
    action = site.finished(started.action_id)
    after = datetime.now(UTC)
    releases = os.listdir(site.machine.home / application.name / "releases")
    assert [r for r in releases if re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r)] == releases
    assert releases == [action.action_data.release_name]
    named = datetime.strptime(releases[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert before <= named <= after


def test_private_worker_runs_through_its_daemon(site: Site) -> None:
    """Verify: "For a private worker: the process is running via your daemon"."""
    c = site.guide.c
    on_server = [{"resource_type": "server", "resource_id": site.server.id}]
    application = site.application(linked_resources=on_server)
    sleep = site.unique_sleep()
    c.daemons.add_environment_daemon(site.where.env.id, {
        "name": f"{application.name}-worker", "command": f"exec {sleep}", "process_count": 1,
        "working_directory": "public", "run_as_user": site.machine.user,
        "application_id": application.id, "linked_resources": on_server,
    })
    site.finished(c.applications.add_application_deployment(
        application.id, {"type": "deploy"}).action_id)
    running = site.pids(sleep)
    assert len(running) == 1
    release = (site.machine.home / application.name / "current" / "public").resolve()
    assert Path(f"/proc/{running.pop()}/cwd").resolve() == release


@pytest.fixture
def agent(mcp_server_venv: Path, guide_server: GuideServer, tmp_path: Path
          ) -> Iterator[McpAgent]:
    workdir = tmp_path / "mcp"
    workdir.mkdir()
    yield from stdio_agent(mcp_server_venv, guide_server.url, guide_server.token, workdir)


def test_deploy_prompt(site: Site, agent: McpAgent) -> None:
    """"Deploy the `acme-api` application in Production using branch `main`": the tool
    calls an agent makes for it, through the official MCP server."""
    application = site.application(
        linked_resources=[{"resource_type": "server", "resource_id": site.server.id}])
    listed = agent.call("devopness_list_applications", project_id=site.where.project.id,
                        environment_id=site.where.env.id).data
    found = next(a for a in listed if a["name"] == application.name)
    pipelines = agent.call("devopness_get_resource_pipelines", resource_id=found["id"],
                           resource_type="application").data
    pipeline = next(p["id"] for p in pipelines if p["operation"] == "deploy")
    started = agent.call("devopness_deploy_application", pipeline_id=pipeline,
                         source_type="branch", source_value="main",
                         server_ids=[site.server.id]).data
    deadline = time.monotonic() + 120
    action = agent.call("devopness_get_action_details", action_id=started["id"]).data
    while action["status"] not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.3)
        action = agent.call("devopness_get_action_details", action_id=started["id"]).data
    assert action["status"] == "completed", action
    assert (site.machine.home / application.name / "current").is_symlink()

"""applications/integrate-application-deployments-to-ci-workflows: an outgoing hook on the
application's deploy pipeline, created with the guide's minimal request (plain HTTP, as its
`curl`), reports the deploy to the git host's commit status API (GitHub's shape, received
on loopback).

When the deploy finishes, the status reaches the receiver on the deployed commit, with the
hook's context and a link back to the action; with `action.status_changed` the same entry
updates as the action moves through its states, always on the deployed commit (a branch's
commit is known once the deploy fetched it: the states before are sent then)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.guides.app_fixtures import Site

CONTEXT = "devopness/deploy"


@dataclass
class CommitStatuses:
    """The git host's `POST /repos/{owner}/{repo}/statuses/{sha}`, on loopback."""

    url: str
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def wait_for(self, count: int, seconds: float = 10) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.received

    def wait_for_state(self, state: str, seconds: float = 10) -> list[tuple[str, dict[str, Any]]]:
        """What was received until a status in `state` arrived."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not any(
            body.get("state") == state for _, body in self.received
        ):
            time.sleep(0.1)
        return list(self.received)


@pytest.fixture
def statuses() -> Iterator[CommitStatuses]:
    received: list[tuple[str, dict[str, Any]]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received.append((self.path, json.loads(self.rfile.read(length) or b"{}")))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield CommitStatuses(f"http://127.0.0.1:{server.server_port}", received)
    server.shutdown()
    server.server_close()


def create_hook(site: Site, statuses: CommitStatuses, events: list[str]
                ) -> tuple[Any, Any, Any]:
    c = site.guide.c
    application = site.application(
        linked_resources=[{"resource_type": "server", "resource_id": site.server.id}])
    pipeline = next(p for p in c.pipelines.list_pipelines_by_resource_type(
        application.id, "application").data if p.operation == "deploy")
    # The guide's minimal request, its body shaped for GitHub's commit statuses.
    r = httpx.post(
        f"{site.guide.server.url}/pipelines/{pipeline.id}/hooks/outgoing",
        headers={"Accept": "application/json",
                 "Authorization": f"Bearer {site.guide.token}"},
        json={
            "name": "commit status", "action_type": "deploy",
            "target_url": f"{statuses.url}/repos/octo/shop/statuses/"
                          "{{ action.action_data.commit.hash }}",
            "settings": {"request_body": {
                "state": "{{ action.status }}", "context": CONTEXT,
                "target_url": "{{ action.url_web_permalink }}",
                "description": "Devopness deploy {{ action.status }}",
            }},
            "trigger_when": {"events": events},
        },
    )
    assert r.status_code == 201, r.text
    return application, pipeline, r.json()


def test_deploy_status_reaches_the_git_host(site: Site, statuses: CommitStatuses) -> None:
    application, pipeline, hook = create_hook(
        site, statuses, ["action.started", "action.completed", "action.failed"])
    assert (hook["type"], hook["pipeline_id"]) == ("out", pipeline.id)

    started = site.guide.c.applications.add_application_deployment(
        application.id, {"type": "deploy"})
    action = site.finished(started.action_id)
    # Hooks are delivered after the action's state commits, in the background: the
    # started status may be all that has arrived when the action reads finished.
    received = statuses.wait_for_state("completed")
    assert received, "no status reached the git host"
    path, body = received[-1]
    # The status is on the deployed commit and links back to the action's details page.
    assert path == f"/repos/octo/shop/statuses/{action.action_data.commit.hash}"
    assert body["target_url"] == action.url_web_permalink
    assert (body["state"], body["context"]) == ("completed", CONTEXT)


def test_the_same_commit_status_follows_the_deploy(
    site: Site, statuses: CommitStatuses
) -> None:
    application, _, _ = create_hook(site, statuses, ["action.status_changed"])
    started = site.guide.c.applications.add_application_deployment(
        application.id, {"type": "deploy"})
    action = site.finished(started.action_id)
    # Hooks are sent once the action's state is stored: by now all of them are on their way.
    received = statuses.wait_for_state("completed")
    # The status is on the deployed commit and links to the action's details page ...
    assert {path for path, _ in received} == {
        f"/repos/octo/shop/statuses/{action.action_data.commit.hash}"}
    assert {body["target_url"] for _, body in received} == {action.url_web_permalink}
    # ... and the same entry (one context) updates as the action moves through its states.
    assert {body["context"] for _, body in received} == {CONTEXT}
    states = [body["state"] for _, body in received]
    assert len(states) >= 2 and states[-1] == "completed"
    # Queued and started are held until the fetch step recorded the branch's commit.
    assert states == ["pending", "in-progress", "completed"]


def test_a_deploy_that_never_learns_its_commit_posts_no_status_on_an_empty_sha(
    site: Site, statuses: CommitStatuses
) -> None:
    application, _, _ = create_hook(site, statuses, ["action.status_changed"])
    started = site.guide.c.applications.add_application_deployment(
        application.id, {"type": "deploy", "source_type": "branch",
                         "source_ref": "no-such-branch"})
    action = site.finished(started.action_id, expect="failed")
    assert action.action_data is None or not action.action_data.commit.hash
    time.sleep(1)
    assert statuses.received == []

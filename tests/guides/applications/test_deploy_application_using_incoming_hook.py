"""applications/deploy-application-using-incoming-hook: an incoming hook on the
application's deploy pipeline, called by the git host's push event (signed with the hook's
secret); the deploy it starts runs on the machine, and says the hook triggered it."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from tests.guides.app_fixtures import Site


def test_deploy_application_using_incoming_hook(site: Site) -> None:
    c = site.guide.c
    application = site.application(
        linked_resources=[{"resource_type": "server", "resource_id": site.server.id}])
    # Find the pipeline ID: the application's deploy pipeline.
    pipeline = next(p for p in c.pipelines.list_pipelines_by_resource_type(
        application.id, "application").data if p.operation == "deploy")

    # Create the incoming webhook; copy its URL and secret.
    hook = c.hooks.add_pipeline_hook("incoming", pipeline.id, {
        "name": "deploy on push", "requires_secret": True, "secret_algorithm": "sha256",
        "secret_header_name": "X-Hub-Signature-256",
        "settings": {"variables": [
            {"name": "source_type", "type": "string", "required": False,
             "default_value": "commit"},
            {"name": "source_ref", "path": "after", "type": "string", "required": True},
        ]},
    }).data
    assert hook.url and hook.secret

    # The git host sends its push event to the URL, signed with the secret.
    pushed = site.repo.commit({"public/index.html": "<h1>pushed</h1>\n"}, "pushed")
    body = json.dumps({"ref": "refs/heads/main", "after": pushed}).encode()
    signature = "sha256=" + hmac.new(hook.secret.encode(), body, hashlib.sha256).hexdigest()
    sent = httpx.post(hook.url, content=body, headers={
        "Content-Type": "application/json", "X-GitHub-Event": "push",
        "X-Hub-Signature-256": signature,
    })
    assert sent.status_code in (200, 202), sent.text
    action_id = int(sent.headers["X-Devopness-Action-Id"])

    # A new deploy action in the application's history, triggered by the hook ...
    history = c.actions.list_actions_by_resource_type(application.id, "application").data
    assert action_id in [a.id for a in history]
    action = site.finished(action_id)
    assert action.type == "deploy" and action.pipeline_id == pipeline.id
    assert (action.triggered_from.trigger_type, action.triggered_from.hook_id) == (
        "hook", hook.id)
    # ... which deployed the pushed commit.
    assert action.action_data.commit.hash == pushed
    live = site.machine.home / application.name / "current" / "public" / "index.html"
    assert live.read_text() == "<h1>pushed</h1>\n"

    # Common issue: a request without the signature triggers nothing.
    unsigned = httpx.post(hook.url, content=body,
                          headers={"Content-Type": "application/json"})
    assert unsigned.status_code in (401, 403, 422)
    history = c.actions.list_actions_by_resource_type(application.id, "application").data
    assert len(history) == 1

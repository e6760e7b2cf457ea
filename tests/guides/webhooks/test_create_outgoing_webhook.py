"""webhooks/create-outgoing-webhook: a hook that reports a deploy pipeline's action
status to the source provider (a pull request comment); then it is in the list."""

from __future__ import annotations

import httpx
import pytest

from tests.guides.conftest import TEMPLATED_TARGET_URL, Guide

TARGET = "https://api.github.com/repos/octo/repo-1/issues/{{ action.triggered_from.hook_parsed_variables.pull_request_id }}/comments"  # noqa: E501


@pytest.mark.xfail(strict=True, reason=TEMPLATED_TARGET_URL)
def test_create_outgoing_webhook(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    pipeline = next(
        p for p in guide.c.pipelines.list_pipelines_by_resource_type(
            application.id, "application").data if p.operation == "deploy"
    )

    with httpx.Client(base_url=guide.server.url, headers={"Accept": "application/json"}) as h:
        r = h.post("/users/login",
                   json={"email": "owner@guides.example", "password": "guides-password-1"})
        assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}

        r = h.post(f"/pipelines/{pipeline.id}/hooks/outgoing", headers=auth, json={
            "name": "CD(deploy)",
            "action_type": "deploy",
            "target_url": TARGET,
            "settings": {
                "request_headers": [{
                    "name": "Authorization",
                    "value": "Bearer {{ application.source_provider.access_token }}",
                }],
                "request_body": {
                    "body": "Devopness application `{{ application.name }}` deployment "
                            "**{{ action.status }}**",
                },
            },
            "trigger_when": {"events": ["action.status_changed"]},
        })
        assert r.status_code == 201, r.text
        hook = r.json()
        assert (hook["type"], hook["target_url"]) == ("outgoing", TARGET)

        r = h.get(f"/pipelines/{pipeline.id}/hooks", headers=auth)
        assert r.status_code == 200
        assert hook["id"] in [x["id"] for x in r.json()]

"""webhooks/create-incoming-webhook: log in, create the hook on a pipeline, list it."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from tests.guides.conftest import Guide

HOOK = {
    "name": "Deploy `main` branch",
    "requires_secret": True,
    "secret_algorithm": "sha256",
    "secret_header_name": "x-hub-signature-256",
    "action_type": "deploy",
    "settings": {"variables": [
        {"name": "source_type", "type": "string", "required": False,
         "default_value": "branch"},
        {"name": "source_ref", "path": "pull_request.head.ref", "type": "string",
         "required": False, "default_value": "main"},
        {"name": "pull_request_id", "path": "pull_request.number", "type": "integer",
         "required": False},
        {"name": "pull_request_title", "path": "pull_request.title", "type": "string",
         "required": False},
        {"name": "commit_hash", "path": "pull_request.head.sha", "type": "string",
         "required": False},
    ]},
}


def test_create_incoming_webhook(guide: Guide) -> None:
    where = guide.workspace()
    # A server for the deploy a signed request starts (a loopback port, nothing listens).
    server = guide.loopback_server(where.env.id)
    application = guide.application(where, server_id=server.id)
    pipeline = next(
        p for p in guide.c.pipelines.list_pipelines_by_resource_type(
            application.id, "application").data if p.operation == "deploy"
    )

    # Step 1: POST /users/login with the account's e-mail and password.
    with httpx.Client(base_url=guide.server.url, headers={"Accept": "application/json"}) as h:
        r = h.post("/users/login",
                   json={"email": "owner@guides.example", "password": "guides-password-1"})
        assert r.status_code == 200, r.text
        access_token = r.json()["access_token"]
        auth = {"Authorization": f"Bearer {access_token}"}

        # Step 2: POST /pipelines/{id}/hooks/incoming with the guide's body, as curl sends it.
        r = h.post(f"/pipelines/{pipeline.id}/hooks/incoming", json=HOOK, headers=auth)
        assert r.status_code == 201, r.text
        hook = r.json()
        url, secret = hook["url"], hook["secret"]
        assert url and secret

        # Step 3: the hook is in the pipeline's list; the secret is masked from now on.
        r = h.get(f"/pipelines/{pipeline.id}/hooks", headers=auth)
        assert r.status_code == 200
        listed = {x["id"]: x for x in r.json()}
        assert hook["id"] in listed
        assert secret not in json.dumps(listed[hook["id"]])

    # A request is valid when it carries the body's HMAC under the header named.
    body = json.dumps({"pull_request": {"head": {"ref": "main", "sha": "abc"},
                                        "number": 7, "title": "Fix"}}).encode()
    unsigned = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code in (401, 403, 422)
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    signed = httpx.post(url, content=body, headers={
        "Content-Type": "application/json", "x-hub-signature-256": signature,
    })
    assert signed.status_code in (200, 202), signed.text
    assert int(signed.headers["X-Devopness-Action-Id"]) > 0

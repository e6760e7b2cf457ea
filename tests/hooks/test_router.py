from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Action, Pipeline
from app.hooks import verification
from app.hooks.models import Hook, HookRequest
from tests import resource_factories as rf
from tests.factories_credentials import create_tenant
from tests.hooks.conftest import create_hook, pipeline_for


async def test_incoming_hook_lifecycle_and_requests(
    client: httpx.AsyncClient, db: AsyncSession, count_queries: Any
) -> None:
    tenant = await create_tenant(db)
    pipeline_id = await pipeline_for(db, tenant)
    hook = await create_hook(client, tenant, pipeline_id)
    assert hook["type"] == "in" and hook["action_type"] == "deploy"
    assert hook["url"] == f"http://testserver/hooks/{hook['id']}/trigger"
    assert hook["environment_id"] == tenant.environment.id and hook["resource_id"] == 5
    assert len(hook["secret"]) >= 32
    stored = await db.get(Hook, hook["id"])
    assert stored is not None and hook["secret"] not in stored.secret_encrypted

    # Triggered without any authentication; the pipeline's application runs on no server
    # yet, so the engine refuses with 422 naming why, and the request is recorded.
    r = await client.post(f"/hooks/{hook['id']}/trigger", json={"ref": "refs/heads/main"})
    assert r.status_code == 422, r.text
    assert "not linked to any server" in r.json()["message"]

    r = await client.get(f"/hooks/incoming/{hook['id']}/requests", headers=tenant.headers)
    assert r.status_code == 200
    [listed] = r.json()
    assert listed["response_status_code"] == 422 and listed["ip_address"] == "127.0.0.1"
    r = await client.get(f"/hook-requests/{listed['id']}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["request_body"] == {"ref": "refs/heads/main"}
    assert detail["response_body"]["message"] == "The resource is not linked to any server."
    assert detail["hook"]["id"] == hook["id"]

    await create_hook(client, tenant, pipeline_id, name="second")
    url = f"/pipelines/{pipeline_id}/hooks"
    await client.get(url, headers=tenant.headers)
    with count_queries() as few:
        r = await client.get(url, headers=tenant.headers, params={"per_page": 1})
    with count_queries() as many:
        r = await client.get(url, headers=tenant.headers)
    assert len(r.json()) == 2 and many.count == few.count

    r = await client.put(f"/hooks/incoming/{hook['id']}", headers=tenant.headers,
                         json={"id": hook["id"], "name": "renamed", "active": False})
    assert r.status_code == 204, r.text
    r = await client.get(f"/hooks/incoming/{hook['id']}", headers=tenant.headers)
    assert r.json()["name"] == "renamed" and r.json()["active"] is False
    r = await client.post(f"/hooks/{hook['id']}/trigger", json={})
    assert r.status_code == 403
    r = await client.get(f"/hooks/outgoing/{hook['id']}", headers=tenant.headers)
    assert r.status_code == 404
    r = await client.delete(f"/hooks/incoming/{hook['id']}", headers=tenant.headers)
    assert r.status_code == 204
    assert (await client.post(f"/hooks/{hook['id']}/trigger", json={})).status_code == 404


async def test_trigger_starts_the_pipelines_action_on_the_applications_servers(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """A hook's trigger starts a real action of its pipeline on the application's servers
    (the engine runs it), and the request record names that action."""
    tenant = await create_tenant(db)
    application = await rf.create_application(db, tenant)
    server = await rf.create_server(db, tenant)
    await rf.link(db, "application", application.id, server)
    pipeline_id = await pipeline_for(db, tenant, resource_id=application.id)
    hook = await create_hook(
        client, tenant, pipeline_id,
        settings={"variables": [{"name": "branch", "path": "ref", "type": "string",
                                 "required": True}]},
    )
    r = await client.post(f"/hooks/{hook['id']}/trigger", json={"ref": "main"})
    assert r.status_code == 200, r.text
    action_id = int(r.headers["X-Devopness-Action-Id"])
    r = await client.get(f"/actions/{action_id}", params={"wait": 30}, headers=tenant.headers)
    action = r.json()
    assert action["type"] == "deploy" and action["pipeline_id"] == pipeline_id
    assert (action["resource"]["type"], action["resource"]["id"]) == (
        "application", application.id)
    assert [t["resource_id"] for t in action["targets"]] == [server.id]
    # The test's pipeline has no steps: its action completes without connecting.
    assert action["status"] == "completed", action["status"]
    stored = (await db.scalars(select(HookRequest))).one()
    assert stored.action_id == action["id"] and stored.response_status_code == 200
    row = await db.get(Action, action["id"])
    assert row is not None
    assert row.triggered_from["hook_id"] == hook["id"]
    assert row.action_data is not None and row.action_data["variables"] == {"branch": "main"}

    r = await client.post(f"/hooks/{hook['id']}/trigger", json={"other": 1})
    assert r.status_code == 422 and "variables.branch" in r.json()["errors"]
    assert (await db.scalar(select(func.count()).select_from(Action))) == 1


async def test_github_signature_and_form_payload(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant = await create_tenant(db)
    hook = await create_hook(
        client, tenant, await pipeline_for(db, tenant), requires_secret=True,
        secret_algorithm="sha256",
        trigger_when={"conditions": [{"name": "main only", "type": "request_body",
                                      "path": "ref", "accepted_values": ["refs/heads/main"]}]},
    )
    assert hook["secret_header_name"] == "X-Hub-Signature-256"
    url = f"/hooks/{hook['id']}/trigger"
    body = urlencode({"payload": json.dumps({"ref": "refs/heads/main"})}).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = await client.post(url, content=body, headers=form)
    assert r.status_code == 403  # unsigned
    r = await client.post(url, content=body, headers={**form, "X-Hub-Signature-256": "sha256=00"})
    assert r.status_code == 403
    signature = verification.sign("sha256", hook["secret"], body)
    r = await client.post(url, content=body, headers={**form, "X-Hub-Signature-256": signature})
    assert r.status_code == 422, r.text  # accepted; the application has no server to run on
    other = json.dumps({"ref": "refs/heads/dev"}).encode()
    r = await client.post(url, content=other, headers={
        "Content-Type": "application/json",
        "X-Hub-Signature-256": verification.sign("sha256", hook["secret"], other),
    })
    assert r.status_code == 200 and "main only" in r.json()["message"]
    rows = (await db.scalars(select(HookRequest).order_by(HookRequest.created_at))).all()
    assert [row.response_status_code for row in rows] == [403, 403, 422, 200]
    assert rows[2].request_body == {"ref": "refs/heads/main"}


async def test_gitlab_token_is_masked_in_the_record(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant = await create_tenant(db)
    hook = await create_hook(client, tenant, await pipeline_for(db, tenant), requires_secret=True,
                             secret_algorithm="token")
    url = f"/hooks/{hook['id']}/trigger"
    r = await client.post(url, json={}, headers={"X-Gitlab-Token": "guess"})
    assert r.status_code == 403
    r = await client.post(url, json={}, headers={"X-Gitlab-Token": hook["secret"]})
    assert r.status_code == 422
    r = await client.get(f"/hooks/incoming/{hook['id']}/requests", headers=tenant.headers)
    for item in r.json():
        detail = (await client.get(f"/hook-requests/{item['id']}", headers=tenant.headers))
        assert detail.json()["request_headers"]["x-gitlab-token"] == "********"
        assert hook["secret"] not in detail.text


async def test_hook_input_rules_and_tenancy(client: httpx.AsyncClient, db: AsyncSession) -> None:
    tenant = await create_tenant(db)
    stranger = await create_tenant(db)
    pipeline_id = await pipeline_for(db, tenant)
    url = f"/pipelines/{pipeline_id}/hooks"
    bad: list[tuple[str, dict[str, Any], str]] = [
        ("incoming", {"name": ""}, "name"),
        ("incoming", {"name": "x" * 61}, "name"),
        ("incoming", {"name": "ok", "requires_secret": True}, "secret_algorithm"),
        ("incoming", {"name": "ok", "secret_algorithm": "md5"}, "secret_algorithm"),
        ("incoming", {"name": "ok", "settings": {"variables": [{"name": ""}]}},
         "settings.variables.0.name"),
        ("outgoing", {"name": "ok"}, "target_url"),
        ("outgoing", {"name": "ok", "target_url": "ftp://x"}, "target_url"),
        ("incoming", {"name": "ok", "trigger_when": {"conditions": [{"path": "a",
                                                                     "accepted_values": []}]}},
         "trigger_when.conditions.0.accepted_values"),
    ]
    for kind, body, field in bad:
        r = await client.post(f"{url}/{kind}", json=body, headers=tenant.headers)
        assert r.status_code == 422, (body, r.text)
        assert field in r.json()["errors"], (field, r.json())
    assert (await client.post(f"{url}/sideways", json={"name": "x"},
                              headers=tenant.headers)).status_code == 422

    hook = await create_hook(client, tenant, pipeline_id)
    await client.post(f"/hooks/{hook['id']}/trigger", json={})
    [request] = (await client.get(f"/hooks/incoming/{hook['id']}/requests",
                                  headers=tenant.headers)).json()
    h = stranger.headers
    assert (await client.get(url, headers=h)).status_code == 404
    assert (await client.post(f"{url}/incoming", json={"name": "x"}, headers=h)).status_code == 404
    assert (await client.get(f"/hooks/incoming/{hook['id']}", headers=h)).status_code == 404
    assert (await client.delete(f"/hooks/incoming/{hook['id']}", headers=h)).status_code == 404
    r = await client.get(f"/hook-requests/{request['id']}", headers=h)
    assert r.status_code == 404
    assert (await client.get("/pipelines/999/hooks", headers=tenant.headers)).status_code == 404
    assert (await client.post("/hooks/not-a-uuid/trigger", json={})).status_code == 404


async def test_any_media_type_reaches_the_trigger(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant = await create_tenant(db)
    hook = await create_hook(client, tenant, await pipeline_for(db, tenant))
    r = await client.post(f"/hooks/{hook['id']}/trigger", content=b"deploy please",
                          headers={"Content-Type": "text/plain"})
    assert r.status_code == 422  # not 415: senders post what they post
    stored = (await db.scalars(select(HookRequest))).one()
    assert stored.request_body == {"content": "deploy please"}
    # Other routes still insist on JSON.
    r = await client.put(f"/hooks/incoming/{hook['id']}", content=b"x",
                         headers={**tenant.headers, "Content-Type": "text/plain"})
    assert r.status_code == 415


async def test_only_those_who_may_change_a_hook_see_its_secret(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    from tests.factories import create_project_token, create_role

    tenant = await create_tenant(db)
    hook = await create_hook(client, tenant, await pipeline_for(db, tenant))
    reader = await create_role(db, permissions=["hook:read"])
    _, token = await create_project_token(db, tenant.project, reader, tenant.user)
    r = await client.get(f"/hooks/incoming/{hook['id']}", headers={"Authorization":
                                                                    f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["secret"] == "********"
    r = await client.get(f"/hooks/incoming/{hook['id']}", headers=tenant.headers)
    assert r.json()["secret"] == hook["secret"] != "********"


async def test_application_hooks_are_listed_per_application(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    from tests import resource_factories as rf

    tenant = await create_tenant(db)
    rt = rf.Tenant(tenant.user, tenant.token, tenant.project, tenant.environment)
    application = await rf.create_application(db, rt)
    other = await rf.create_application(db, rt)
    pipeline = Pipeline(
        name="Deploy", resource_type="application", resource_id=application.id,
        operation="deploy", environment_id=tenant.environment.id,
        project_id=tenant.project.id, created_by=tenant.user.id,
    )
    db.add(pipeline)
    await db.commit()
    hook = await create_hook(client, tenant, pipeline.id)
    r = await client.get(f"/applications/{application.id}/hooks", headers=tenant.headers)
    assert r.status_code == 200
    assert [h["id"] for h in r.json()] == [hook["id"]]
    assert "Link" in r.headers
    r = await client.get(f"/applications/{other.id}/hooks", headers=tenant.headers)
    assert r.status_code == 200 and r.json() == []
    stranger = await create_tenant(db)
    r = await client.get(f"/applications/{application.id}/hooks", headers=stranger.headers)
    assert r.status_code == 404
    r = await client.get("/applications/999999/hooks", headers=tenant.headers)
    assert r.status_code == 404

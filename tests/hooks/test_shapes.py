"""Hook and pipeline responses checked the way schema fuzzers check them: against the
reference exactly as published (`oneOf` meaning exactly one alternative), not only through
the suite's lenient reading of overlapping `oneOf`s."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from sqlalchemy.ext.asyncio import AsyncSession

from app.applications.models import Application
from tests import factories_credentials as fc
from tests import reference
from tests.hooks.conftest import create_hook, pipeline_for


@lru_cache
def _published() -> dict[str, Any]:
    path = reference.require_reference() / reference.CURRENT
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _strict(schema_name: str, value: Any, pointer: str = "") -> list[str]:
    """Errors of `value` against a component schema of the published reference, with
    OpenAPI's `nullable` read as "null is allowed too" and `oneOf` as JSON Schema's."""

    def convert(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: convert(v) for k, v in node.items() if k not in {"nullable", "example"}}
            if k_ref := out.get("$ref"):
                out["$ref"] = "urn:ref" + k_ref
            if node.get("nullable") is True:
                return {"anyOf": [out, {"type": "null"}]}
            return out
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    document = convert(_published())
    registry = Registry().with_resource("urn:ref", Resource.from_contents(document, DRAFT4))
    schema = {"$ref": f"urn:ref#/components/schemas/{schema_name}{pointer}"}
    validator = Draft4Validator(schema, registry=registry)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in validator.iter_errors(value)]


@pytest.fixture(autouse=True)
def _needs_reference() -> None:
    reference.require_reference()


async def _world(db: AsyncSession) -> tuple[fc.Tenant, int, int]:
    tenant = await fc.create_tenant(db)
    application = Application(
        environment_id=tenant.environment.id, project_id=tenant.project.id,
        created_by=tenant.user.id, name="shop", repository="acme/shop", default_branch="main",
        programming_language="python", engine_version="3.12", framework="django",
        root_directory="/", deployments_keep=5,
    )
    db.add(application)
    await db.commit()
    return tenant, await pipeline_for(db, tenant), application.id


async def test_hook_settings_match_exactly_one_settings_shape(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant, pipeline_id, _ = await _world(db)
    incoming = await create_hook(client, tenant, pipeline_id, "incoming")
    with_variables = await create_hook(client, tenant, pipeline_id, "incoming", settings={
        "variables": [{"name": "branch", "path": "ref", "type": "string", "required": True}],
    })
    outgoing = await create_hook(client, tenant, pipeline_id, "outgoing",
                                 target_url="https://hooks.example.com/notify", settings={
                                     "request_headers": [{"name": "X-Team", "value": "ops"}],
                                     "request_body": {"text": "done"},
                                 })
    bare_outgoing = await create_hook(client, tenant, pipeline_id, "outgoing",
                                      target_url="https://hooks.example.com/other")
    created = [incoming, with_variables, outgoing, bare_outgoing]
    for hook in created:
        assert _strict("Hook", hook) == [], hook["settings"]
    # Their content is all still there.
    assert with_variables["settings"]["variables"][0]["name"] == "branch"
    assert outgoing["settings"]["request_headers"] == [{"name": "X-Team", "value": "ops"}]
    assert outgoing["settings"]["request_body"] == {"text": "done"}

    for hook in created:
        kind = "incoming" if hook["type"] == "in" else "outgoing"
        r = await client.get(f"/hooks/{kind}/{hook['id']}", headers=tenant.headers)
        assert r.status_code == 200
        assert _strict("Hook", r.json()) == []
    r = await client.get(f"/pipelines/{pipeline_id}/hooks", headers=tenant.headers)
    assert r.status_code == 200 and len(r.json()) == 4
    assert _strict("HookList", r.json()) == []


@pytest.mark.parametrize("conditions", [
    [{}],
    [{"path": "ref"}],
    [{"type": "request_body", "path": "ref", "accepted_values": []}],
    [{"type": "somewhere", "path": "ref", "accepted_values": ["main"]}],
    [{"type": "request_body", "path": "ref", "accepted_values": [{"nested": 1}]}],
    ["not an object"],
])
async def test_pipeline_conditions_outside_the_reference_are_refused(
    conditions: list[Any], client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant, _, application_id = await _world(db)
    r = await client.post(f"/pipelines/application/{application_id}", headers=tenant.headers,
                          json={"name": "Deploy on tag", "operation": "deploy",
                                "trigger_when": {"conditions": conditions}})
    assert r.status_code == 422, r.text
    assert any(k.startswith("trigger_when") for k in r.json()["errors"]), r.json()
    r = await client.get(f"/pipelines/application/{application_id}", headers=tenant.headers)
    assert "Deploy on tag" not in r.text


async def test_pipelines_with_conditions_match_the_reference(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant, _, application_id = await _world(db)
    condition = {"name": "tags only", "type": "request_body", "path": "ref",
                 "accepted_values": ["refs/tags/v1", 3, True, None]}
    r = await client.post(f"/pipelines/application/{application_id}", headers=tenant.headers,
                          json={"name": "Deploy on tag", "operation": "deploy",
                                "trigger_when": {"conditions": [condition]}})
    assert r.status_code == 201, r.text
    assert _strict("Pipeline", r.json()) == []
    assert r.json()["trigger_when"]["conditions"] == [condition]
    pipeline_id = r.json()["id"]
    r = await client.put(f"/pipelines/{pipeline_id}", headers=tenant.headers, json={
        "id": pipeline_id, "name": "Deploy on tag", "trigger_when": {"conditions": [{}]}})
    assert r.status_code == 422
    r = await client.get(f"/pipelines/application/{application_id}", headers=tenant.headers)
    assert r.status_code == 200
    assert _strict("PipelineList", r.json()) == []
    assert [c for p in r.json() for c in (p["trigger_when"] or {}).get("conditions", [])] \
        == [condition]

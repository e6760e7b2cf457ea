from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import SecretBox
from app.core.settings import Settings
from app.variables.models import Variable
from tests import resource_factories as f


def body(**overrides: Any) -> dict[str, Any]:
    return {"key": "APP_KEY", "value": "s3cret", "target": "os-env-var", "type": "variable",
            "hidden": True, "description": "signing key"} | overrides


async def test_hidden_values_are_sealed_and_never_returned(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    t = await f.create_tenant(db)
    application = await f.create_application(db, t)
    r = await client.post(f"/variables/application/{application.id}", json=body(),
                          headers=t.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["value"] is None and created["hidden"] is True
    assert (created["resource_type"], created["resource_id"]) == ("application", application.id)
    assert "s3cret" not in r.text
    stored = await db.get(Variable, created["id"])
    assert stored is not None and stored.value_plain is None
    assert stored.value_encrypted and "s3cret" not in stored.value_encrypted
    assert SecretBox(settings).decrypt(stored.value_encrypted) == "s3cret"
    for url in (f"/variables/{created['id']}", f"/variables/application/{application.id}"):
        r = await client.get(url, headers=t.headers)
        assert r.status_code == 200 and "s3cret" not in r.text


async def test_visible_values_round_trip_and_update(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    r = await client.post(f"/variables/server/{server.id}",
                          json=body(key="vm.swappiness", value="10", target="sysctl-conf",
                                    hidden=False), headers=t.headers)
    assert r.status_code == 201, r.text
    variable_id = r.json()["id"]
    assert r.json()["value"] == "10"
    r = await client.put(f"/variables/{variable_id}",
                         json=body(id=variable_id, key="vm.swappiness", value="20",
                                   target="sysctl-conf", hidden=True), headers=t.headers)
    assert r.status_code == 204, r.text
    stored = await db.get(Variable, variable_id)
    assert stored is not None
    await db.refresh(stored)
    assert stored.hidden and stored.value_plain is None and stored.value_encrypted
    r = await client.get(f"/variables/{variable_id}", headers=t.headers)
    assert r.json()["value"] is None
    r = await client.delete(f"/variables/{variable_id}", headers=t.headers)
    assert r.status_code == 204
    assert (await client.get(f"/variables/{variable_id}", headers=t.headers)).status_code == 404


async def test_file_variables(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    application = await f.create_application(db, t)
    r = await client.post(f"/variables/application/{application.id}",
                          json=body(key=".env", value="A=1\nB=2\n", target="resource-config-file",
                                    type="file", hidden=False), headers=t.headers)
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "file" and r.json()["value"] == "A=1\nB=2\n"


@pytest.mark.parametrize(
    ("resource_type", "overrides", "field"),
    [
        ("application", {"target": "my-cnf"}, "target"),
        ("application", {"target": "nowhere"}, "target"),
        ("application", {"type": "file"}, "type"),
        ("application", {"type": "secret"}, "type"),
        ("application", {"key": "1BAD"}, "key"),
        ("application", {"key": "x" * 101}, "key"),
        ("application", {"key": "/etc/passwd", "target": "resource-config-file", "type": "file"},
         "key"),
        ("application", {"value": "x" * 21505}, "value"),
        ("application", {"description": "x" * 256}, "description"),
        ("application", {"hidden": None}, "hidden"),
        ("daemon", {}, "resource_type"),
        ("planet", {}, "resource_type"),
    ],
)
async def test_field_rules(
    resource_type: str, overrides: dict[str, Any], field: str, client: httpx.AsyncClient,
    db: AsyncSession,
) -> None:
    t = await f.create_tenant(db)
    application = await f.create_application(db, t)
    r = await client.post(f"/variables/{resource_type}/{application.id}", json=body(**overrides),
                          headers=t.headers)
    assert field in f.field_errors(r), r.json()


async def test_keys_are_unique_per_target(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    application = await f.create_application(db, t)
    url = f"/variables/application/{application.id}"
    assert (await client.post(url, json=body(), headers=t.headers)).status_code == 201
    assert "key" in f.field_errors(await client.post(url, json=body(), headers=t.headers))


async def test_unknown_resource_is_404(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    r = await client.post("/variables/application/999999", json=body(), headers=t.headers)
    assert r.status_code == 404
    r = await client.get("/variables/service/999999", headers=t.headers)
    assert r.status_code == 404


async def test_deprecated_routes(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    application = await f.create_application(db, t)
    service = await f.create_service(db, t, type="mysql", version="8.0")
    r = await client.post(f"/applications/{application.id}/variables", json=body(),
                          headers=t.headers)
    assert r.status_code == 201, r.text
    r = await client.get(f"/applications/{application.id}/variables", headers=t.headers)
    assert [v["key"] for v in r.json()] == ["APP_KEY"]
    r = await client.post(f"/services/{service.id}/variables",
                          json=body(key="max_connections", value="500", target="my-cnf",
                                    hidden=False), headers=t.headers)
    assert r.status_code == 201, r.text
    r = await client.get(f"/services/{service.id}/variables", headers=t.headers)
    assert [v["value"] for v in r.json()] == ["500"]
    r = await client.get(f"/variables/service/{service.id}",
                         params={"variable_target": "redis-conf"}, headers=t.headers)
    assert r.json() == []


async def test_another_tenant_sees_no_variables(client: httpx.AsyncClient, db: AsyncSession
                                                ) -> None:
    owner = await f.create_tenant(db)
    other = await f.create_tenant(db)
    application = await f.create_application(db, owner)
    variable = await f.create_variable(db, owner, "application", application.id)
    h = other.headers
    assert (await client.get(f"/variables/{variable.id}", headers=h)).status_code == 404
    r = await client.put(f"/variables/{variable.id}", json=body(id=variable.id), headers=h)
    assert r.status_code == 404
    assert (await client.delete(f"/variables/{variable.id}", headers=h)).status_code == 404
    r = await client.get(f"/variables/application/{application.id}", headers=h)
    assert r.status_code == 404
    r = await client.post(f"/variables/application/{application.id}", json=body(), headers=h)
    assert r.status_code == 404
    r = await client.get(f"/applications/{application.id}/variables", headers=h)
    assert r.status_code == 404


async def test_list_of_45_in_three_pages(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    application = await f.create_application(db, t)
    for _ in range(45):
        await f.create_variable(db, t, "application", application.id)
    url = f"/variables/application/{application.id}"
    sizes = []
    for page in (1, 2, 3):
        r = await client.get(url, params={"page": page, "per_page": 20}, headers=t.headers)
        assert 'page=3&per_page=20>; rel="last"' in r.headers["Link"]
        sizes.append(len(r.json()))
    assert sizes == [20, 20, 5]

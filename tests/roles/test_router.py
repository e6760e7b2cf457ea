from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.catalogue import ALL_PERMISSIONS
from app.roles.models import Role
from tests.factories import (
    auth,
    create_organization,
    create_project,
    create_project_token,
    create_role,
    create_team,
    link_team,
    user_with_token,
)


async def test_static_permissions_catalogue(client: httpx.AsyncClient, db: AsyncSession) -> None:
    _, token = await user_with_token(db)
    r = await client.get("/static/permissions", headers=auth(token))
    assert r.status_code == 200
    by_type = {g["resource_type"]: g for g in r.json()}
    assert {"application", "server", "service", "environment", "project"} <= set(by_type)
    app_ops = {p["name"] for p in by_type["application"]["permissions"]}
    assert {"read", "create", "update", "delete", "deploy"} <= app_ops
    deploy = next(p for p in by_type["application"]["permissions"] if p["name"] == "deploy")
    assert deploy["required_permissions"] == ["application:read"]
    served = {f"{g['resource_type']}:{p['name']}" for g in r.json() for p in g["permissions"]}
    assert served == ALL_PERMISSIONS


async def test_organization_role_lifecycle(client: httpx.AsyncClient, db: AsyncSession) -> None:
    owner, token = await user_with_token(db)
    org = await create_organization(db, owner)
    predefined = await create_role(db, permissions=["server:read"], name="Viewer")
    r = await client.post(
        f"/organizations/{org.id}/roles",
        json={"name": "Deployers", "permissions": ["application:read", "application:deploy"]},
        headers=auth(token),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["is_predefined"] is False and body["parent"] is None
    assert body["organization"]["id"] == org.id
    role_id = body["id"]

    r = await client.get(f"/organizations/{org.url_slug}/roles", headers=auth(token))
    assert [x["id"] for x in r.json()] == [predefined.id, role_id]

    r = await client.put(
        f"/roles/{role_id}",
        json={"id": role_id, "name": "Deploy", "permissions": ["service:read", "service:start"]},
        headers=auth(token),
    )
    assert r.status_code == 204
    stored = await db.get(Role, role_id)
    assert stored is not None
    await db.refresh(stored)
    assert stored.name == "Deploy" and stored.permissions == ["service:read", "service:start"]

    # A predefined role is readable by anyone and changeable by no one.
    r = await client.get(f"/roles/{predefined.id}", headers=auth(token))
    assert r.status_code == 200
    r = await client.delete(f"/roles/{predefined.id}", headers=auth(token))
    assert r.status_code == 403

    # In use by a team: refused; once free: deleted.
    team = await create_team(db, organization=org)
    link = await link_team(db, team, stored, organization=org)
    r = await client.delete(f"/roles/{role_id}", headers=auth(token))
    assert r.status_code == 409
    await db.delete(link)
    await db.commit()
    r = await client.delete(f"/roles/{role_id}", headers=auth(token))
    assert r.status_code == 204
    db.expire_all()
    assert await db.get(Role, role_id) is None


async def test_role_permissions_are_validated(client: httpx.AsyncClient, db: AsyncSession) -> None:
    owner, token = await user_with_token(db)
    org = await create_organization(db, owner)
    r = await client.post(
        f"/organizations/{org.id}/roles",
        json={"name": "Bad", "permissions": ["server:explode"]},
        headers=auth(token),
    )
    assert r.status_code == 422 and "permissions" in r.json()["errors"]
    r = await client.post(
        f"/organizations/{org.id}/roles",
        json={"name": "Bad", "permissions": ["server:delete"]},
        headers=auth(token),
    )
    assert r.status_code == 422
    assert "server:read" in r.json()["errors"]["permissions"][0]
    r = await client.post(f"/organizations/{org.id}/roles", json={"name": "x"}, headers=auth(token))
    assert r.status_code == 422 and set(r.json()["errors"]) == {"name", "permissions"}


async def test_project_roles_and_isolation(client: httpx.AsyncClient, db: AsyncSession) -> None:
    owner, token = await user_with_token(db)
    _, other_token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    r = await client.post(
        f"/projects/{project.id}/roles",
        json={"name": "Project ops", "description": "ops", "permissions": ["server:read"]},
        headers=auth(token),
    )
    assert r.status_code == 201, r.text
    role_id = r.json()["id"]
    r = await client.get(f"/projects/{project.id}/roles", headers=auth(token))
    assert role_id in [x["id"] for x in r.json()]

    for method, path in [
        ("GET", f"/roles/{role_id}"),
        ("DELETE", f"/roles/{role_id}"),
        ("GET", f"/projects/{project.id}/roles"),
        ("GET", f"/organizations/{org.id}/roles"),
    ]:
        r = await client.request(method, path, headers=auth(other_token))
        assert r.status_code == 404, (method, path)

    reader = await create_role(db, permissions=["role:read"])
    _, secret = await create_project_token(db, project, reader, owner)
    r = await client.get(f"/roles/{role_id}", headers=auth(secret))
    assert r.status_code == 200
    r = await client.put(
        f"/roles/{role_id}",
        json={"id": role_id, "name": "x1", "permissions": []},
        headers=auth(secret),
    )
    assert r.status_code == 403
    team = await create_team(db, organization=org)
    await link_team(db, team, reader, project=project)

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.organizations.models import Organization
from app.teams.models import Team
from tests.factories import (
    auth,
    create_organization,
    create_project,
    create_role,
    create_team,
    link_team,
    user_with_token,
)


async def test_create_get_update_delete_organization(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user, token = await user_with_token(db)
    r = await client.post("/organizations", json={"name": "Acme Corp"}, headers=auth(token))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "Acme Corp" and body["url_slug"] == "acme-corp"
    assert body["owner"]["id"] == user.id
    assert "organization:delete" in body["current_user_permissions"]
    org_id = body["id"]

    # Addressed by id or URL slug alike.
    for key in (str(org_id), "acme-corp"):
        r = await client.get(f"/organizations/{key}", headers=auth(token))
        assert r.status_code == 200 and r.json()["id"] == org_id
    counts = {i["resource_type"]: i["summary"]["count"] for i in r.json()["resource_summary"]}
    assert counts == {"project": 0, "environment": 0, "team": 0}

    r = await client.put(
        f"/organizations/{org_id}",
        json={"id": str(org_id), "name": "Acme", "url_slug": "acme"},
        headers=auth(token),
    )
    assert r.status_code == 204 and r.content == b""
    stored = await db.scalar(select(Organization).where(Organization.id == org_id))
    assert stored is not None and (stored.name, stored.url_slug) == ("Acme", "acme")

    r = await client.get("/organizations", headers=auth(token))
    assert r.status_code == 200 and [o["url_slug"] for o in r.json()] == ["acme"]

    r = await client.delete("/organizations/acme", headers=auth(token))
    assert r.status_code == 204 and r.content == b""
    db.expire_all()
    assert await db.get(Organization, org_id) is None


async def test_slug_conflicts_and_bad_input_are_422(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user, token = await user_with_token(db)
    r = await client.post(
        "/organizations", json={"name": "X", "url_slug": user.url_slug}, headers=auth(token)
    )
    assert r.status_code == 422 and "url_slug" in r.json()["errors"]
    r = await client.post("/organizations", json={"url_slug": "Not A Slug!"}, headers=auth(token))
    assert r.status_code == 422
    assert set(r.json()["errors"]) == {"name", "url_slug"}
    r = await client.post("/organizations", headers=auth(token))
    assert r.status_code == 422 and "name" in r.json()["errors"]


async def test_delete_refuses_while_projects_exist_and_cascades_teams(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user, token = await user_with_token(db)
    org = await create_organization(db, user)
    project = await create_project(db, user, organization=org)
    team = await create_team(db, organization=org, members=(user,))
    r = await client.delete(f"/organizations/{org.id}", headers=auth(token))
    assert r.status_code == 409

    r = await client.get(f"/organizations/{org.url_slug}", headers=auth(token))
    counts = {i["resource_type"]: i["summary"]["count"] for i in r.json()["resource_summary"]}
    assert counts == {"project": 1, "environment": 0, "team": 1}

    r = await client.delete(f"/projects/{project.id}", headers=auth(token))
    assert r.status_code == 204
    r = await client.delete(f"/organizations/{org.id}", headers=auth(token))
    assert r.status_code == 204
    assert await db.scalar(select(Team).where(Team.id == team.id)) is None


async def test_other_tenant_gets_404_and_team_member_reads_but_cannot_change(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, _ = await user_with_token(db)
    org = await create_organization(db, owner)
    other, other_token = await user_with_token(db)
    for method, path in [
        ("GET", f"/organizations/{org.id}"),
        ("GET", f"/organizations/{org.url_slug}"),
        ("DELETE", f"/organizations/{org.id}"),
    ]:
        r = await client.request(method, path, headers=auth(other_token))
        assert r.status_code == 404, (method, path)
    r = await client.get("/organizations", headers=auth(other_token))
    assert r.json() == []

    reader = await create_role(db, permissions=["organization:read", "project:read"])
    team = await create_team(db, organization=org, members=(other,))
    await link_team(db, team, reader, organization=org)
    r = await client.get(f"/organizations/{org.id}", headers=auth(other_token))
    assert r.status_code == 200
    assert r.json()["current_user_permissions"] == ["organization:read", "project:read"]
    r = await client.put(
        f"/organizations/{org.id}",
        json={"id": str(org.id), "name": "Hijacked", "url_slug": "hijacked"},
        headers=auth(other_token),
    )
    assert r.status_code == 403
    r = await client.get("/organizations", headers=auth(other_token))
    assert [o["id"] for o in r.json()] == [org.id]

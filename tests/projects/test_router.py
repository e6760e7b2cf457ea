from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.projects.models import Project
from app.roles.models import Role
from app.teams.models import Team
from tests.factories import (
    auth,
    create_environment,
    create_organization,
    create_project,
    create_project_token,
    create_role,
    create_team,
    link_team,
    user_with_token,
)
from tests.resource_factories import Tenant, create_ssh_key


async def test_personal_project_lifecycle(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user, token = await user_with_token(db)
    r = await client.post("/projects", json={"name": "Shop"}, headers=auth(token))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["user_id"] == user.id and body["organization"] is None
    assert body["created_by_user"]["id"] == user.id
    assert "project:delete" in body["current_user_permissions"]
    pid = body["id"]

    r = await client.put(
        f"/projects/{pid}",
        json={"id": pid, "name": "Shop 2", "logo_url": "https://example.com/l.png"},
        headers=auth(token),
    )
    assert r.status_code == 204
    stored = await db.get(Project, pid)
    assert stored is not None
    await db.refresh(stored)
    assert (stored.name, stored.logo_url) == ("Shop 2", "https://example.com/l.png")

    r = await client.put(f"/projects/{pid}", json={"id": pid + 1, "name": "x"}, headers=auth(token))
    assert r.status_code == 422 and "id" in r.json()["errors"]

    r = await client.get(f"/projects/{pid}", headers=auth(token))
    assert r.status_code == 200
    summary = {i["resource_type"]: i["summary"]["count"] for i in r.json()["resource_summary"]}
    assert summary["environment"] == 0

    r = await client.delete(f"/projects/{pid}", headers=auth(token))
    assert r.status_code == 204 and r.content == b""
    db.expire_all()
    assert await db.get(Project, pid) is None


async def test_bodiless_create_names_missing_fields(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    _, token = await user_with_token(db)
    r = await client.post("/projects", headers=auth(token))
    assert r.status_code == 422
    assert "name" in r.json()["errors"]
    r = await client.post("/projects", json={"name": "x" * 61}, headers=auth(token))
    assert r.status_code == 422 and "name" in r.json()["errors"]


async def test_organization_project_and_delete_takes_its_empty_environments(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, token = await user_with_token(db)
    org = await create_organization(db, owner)
    r = await client.post(
        f"/organizations/{org.url_slug}/projects", json={"name": "Org App"}, headers=auth(token)
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["organization"]["id"] == org.id and body["user_id"] == owner.id
    project = await db.get(Project, body["id"])
    assert project is not None
    environment = await create_environment(db, project)
    archived = await create_environment(db, project, archived=True)
    r = await client.get(f"/projects/{project.id}", headers=auth(token))
    summary = {i["resource_type"]: i["summary"]["count"] for i in r.json()["resource_summary"]}
    assert summary["environment"] == 1 and summary["archived-environment"] == 1

    # An environment holding a resource blocks the removal, and nothing is removed.
    tenant = Tenant(owner, token, project, archived)
    key = await create_ssh_key(db, tenant)
    r = await client.delete(f"/projects/{project.id}", headers=auth(token))
    assert r.status_code == 409
    assert "ssh keys" in r.json()["message"].lower()
    r = await client.get(f"/environments/{environment.id}", headers=auth(token))
    assert r.status_code == 200

    # Without resources, the project's environments go with it.
    await db.delete(key)
    await db.commit()
    r = await client.delete(f"/projects/{project.id}", headers=auth(token))
    assert r.status_code == 204, r.text
    for env in (environment, archived):
        r = await client.get(f"/environments/{env.id}", headers=auth(token))
        assert r.status_code == 404


async def test_lists_filter_by_owner_and_never_leak(
    client: httpx.AsyncClient, db: AsyncSession, count_queries: Any
) -> None:
    owner, token = await user_with_token(db)
    other, other_token = await user_with_token(db)
    org = await create_organization(db, owner)
    personal = [await create_project(db, owner) for _ in range(3)]
    in_org = await create_project(db, owner, organization=org)
    foreign = await create_project(db, other)

    with count_queries() as q:
        r = await client.get("/projects?per_page=100", headers=auth(token))
    assert r.status_code == 200
    ids = {p["id"] for p in r.json()}
    assert ids == {p.id for p in personal} | {in_org.id}
    # auth (token + last-used), count, page, organizations, creators: bounded, no N+1.
    assert q.count <= 6, q.statements

    r = await client.get(f"/projects?owner={org.url_slug}", headers=auth(token))
    assert [p["id"] for p in r.json()] == [in_org.id]
    r = await client.get(f"/projects?owner={owner.url_slug}", headers=auth(token))
    assert {p["id"] for p in r.json()} == {p.id for p in personal}
    r = await client.get(f"/projects?owner={other.url_slug}", headers=auth(token))
    assert r.json() == []

    r = await client.get(f"/users/{owner.url_slug}/projects", headers=auth(token))
    assert r.status_code == 200 and len(r.json()) == 4
    r = await client.get(f"/users/{owner.id}/projects", headers=auth(other_token))
    assert r.status_code == 404
    r = await client.get(f"/projects/{foreign.id}", headers=auth(token))
    assert r.status_code == 404


async def test_project_token_reaches_only_its_project_and_role(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, _ = await user_with_token(db)
    project = await create_project(db, owner)
    elsewhere = await create_project(db, owner)
    role = await create_role(db, permissions=["project:read", "environment:read"])
    _, secret = await create_project_token(db, project, role, owner)

    r = await client.get("/projects", headers=auth(secret))
    assert [p["id"] for p in r.json()] == [project.id]
    r = await client.get(f"/projects/{project.id}", headers=auth(secret))
    assert r.status_code == 200
    assert r.json()["current_user_permissions"] == ["environment:read", "project:read"]
    r = await client.get(f"/projects/{elsewhere.id}", headers=auth(secret))
    assert r.status_code == 404
    r = await client.delete(f"/projects/{project.id}", headers=auth(secret))
    assert r.status_code == 403
    r = await client.put(
        f"/projects/{project.id}", json={"id": project.id, "name": "x"}, headers=auth(secret)
    )
    assert r.status_code == 403
    # Personal projects belong to people, not to tokens.
    r = await client.post("/projects", json={"name": "p"}, headers=auth(secret))
    assert r.status_code == 403


async def test_team_linked_to_project_grants_its_role(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, _ = await user_with_token(db)
    member, member_token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    team = await create_team(db, organization=org, members=(member,))
    editor = await create_role(db, permissions=["project:read", "project:update"])
    await link_team(db, team, editor, project=project)
    r = await client.put(
        f"/projects/{project.id}",
        json={"id": project.id, "name": "Renamed"},
        headers=auth(member_token),
    )
    assert r.status_code == 204
    r = await client.delete(f"/projects/{project.id}", headers=auth(member_token))
    assert r.status_code == 403
    r = await client.get("/projects", headers=auth(member_token))
    assert [p["name"] for p in r.json()] == ["Renamed"]


async def test_delete_cascades_project_teams_roles_and_tokens(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, token = await user_with_token(db)
    project = await create_project(db, owner)
    r = await client.post(
        f"/projects/{project.id}/roles",
        json={"name": "ops", "permissions": ["project:read"]},
        headers=auth(token),
    )
    role = await db.get(Role, r.json()["id"])
    assert role is not None
    team = await create_team(db, project=project, members=(owner,))
    await link_team(db, team, role, project=project)
    await create_project_token(db, project, role, owner)
    project_id, team_id, role_id = project.id, team.id, role.id
    r = await client.delete(f"/projects/{project_id}", headers=auth(token))
    assert r.status_code == 204, r.text
    db.expire_all()
    assert await db.get(Team, team_id) is None
    assert await db.get(Role, role_id) is None


async def test_resource_summary_counts_only_what_the_project_holds(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """The summary is read with the project in one statement: each count is this project's
    own (another project's environments and teams never leak in), and a foreign project's
    counts are never answered at all."""
    owner, token = await user_with_token(db)
    project = await create_project(db, owner)
    other = await create_project(db, owner)
    for _ in range(2):
        await create_environment(db, project)
    await create_environment(db, project, archived=True)
    await create_team(db, project=project, creator=owner)
    for _ in range(3):
        await create_environment(db, other)
    await create_environment(db, other, archived=True)
    await create_team(db, project=other, creator=owner)
    await create_team(db, project=other, creator=owner)

    def counts(response: httpx.Response) -> dict[str, int]:
        items = response.json()["resource_summary"]
        return {i["resource_type"]: i["summary"]["count"] for i in items}

    r = await client.get(f"/projects/{project.id}", headers=auth(token))
    assert r.status_code == 200
    assert counts(r) == {"environment": 2, "archived-environment": 1, "team": 1}
    r = await client.get(f"/projects/{other.id}", headers=auth(token))
    assert counts(r) == {"environment": 3, "archived-environment": 1, "team": 2}

    _, stranger = await user_with_token(db)
    r = await client.get(f"/projects/{project.id}", headers=auth(stranger))
    assert r.status_code == 404 and "resource_summary" not in r.json()
    r = await client.get("/projects/999999", headers=auth(token))
    assert r.status_code == 404

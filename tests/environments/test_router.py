from __future__ import annotations

from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import SecretBox
from app.core.settings import Settings
from app.environments import schemas
from app.environments.keys import open_environment_key
from app.environments.models import Environment
from app.environments.repository import EnvironmentRepository
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


async def test_environment_lifecycle_with_its_own_ssh_key(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    user, token = await user_with_token(db)
    project = await create_project(db, user)
    r = await client.post(
        f"/projects/{project.id}/environments",
        json={"type": "production", "name": "prod", "description": "live"},
        headers=auth(token),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["type"] == "production" and body["type_human_readable"] == "Production"
    assert body["is_archived"] is False and body["teams"] == []
    assert "environment:delete" in body["current_user_permissions"]
    assert not any("key" in k for k in body)
    env_id = body["id"]

    stored = await db.get(Environment, env_id)
    assert stored is not None
    assert stored.ssh_public_key.startswith("ssh-ed25519 ")
    assert "PRIVATE KEY" not in stored.ssh_private_key_encrypted
    private = open_environment_key(SecretBox(settings), stored.ssh_private_key_encrypted)
    loaded = serialization.load_ssh_private_key(private.encode(), password=None)
    public = (
        loaded.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    assert stored.ssh_public_key.startswith(public)

    r = await client.post(
        f"/projects/{project.id}/environments",
        json={"type": "staging", "name": "prod"},
        headers=auth(token),
    )
    assert r.status_code == 422 and "name" in r.json()["errors"]
    r = await client.post(
        f"/projects/{project.id}/environments",
        json={"type": "qa", "name": "x"},
        headers=auth(token),
    )
    assert r.status_code == 422 and "type" in r.json()["errors"]

    r = await client.put(
        f"/environments/{env_id}",
        json={"id": env_id, "type": "staging", "name": "stage"},
        headers=auth(token),
    )
    assert r.status_code == 204
    r = await client.get(f"/environments/{env_id}", headers=auth(token))
    assert (r.json()["type"], r.json()["name"], r.json()["description"]) == (
        "staging",
        "stage",
        "live",
    )

    r = await client.post(f"/environments/{env_id}/archive", headers=auth(token))
    assert r.status_code == 204
    r = await client.get(f"/projects/{project.id}/environments", headers=auth(token))
    assert r.json() == []
    r = await client.get(f"/projects/{project.id}/environments/archived", headers=auth(token))
    assert [e["id"] for e in r.json()] == [env_id]
    assert r.json()[0]["archived_at"] is not None
    r = await client.post(f"/environments/{env_id}/unarchive", headers=auth(token))
    assert r.status_code == 204
    r = await client.get(f"/projects/{project.id}/environments", headers=auth(token))
    assert [e["id"] for e in r.json()] == [env_id]

    r = await client.delete(f"/environments/{env_id}", headers=auth(token))
    assert r.status_code == 204 and r.content == b""
    db.expire_all()
    assert await db.get(Environment, env_id) is None


async def test_environment_lists_are_bounded_in_queries(
    client: httpx.AsyncClient, db: AsyncSession, count_queries: Any
) -> None:
    user, token = await user_with_token(db)
    org = await create_organization(db, user)
    project = await create_project(db, user, organization=org)
    for _ in range(25):
        await create_environment(db, project)
    with count_queries() as q:
        r = await client.get(
            f"/projects/{project.id}/environments?per_page=20", headers=auth(token)
        )
    assert r.status_code == 200 and len(r.json()) == 20
    assert 'rel="next"' in r.headers["Link"]
    assert q.count <= 8, q.statements
    names = [e["name"] for e in r.json()]
    assert names == sorted(names)

    with count_queries() as q:
        r = await client.get(f"/users/{user.id}/environments?per_page=100", headers=auth(token))
    assert r.status_code == 200 and len(r.json()) == 25
    assert q.count <= 7, q.statements


async def test_environment_list_pages_carry_the_total_and_the_declared_items(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user, token = await user_with_token(db)
    org = await create_organization(db, user)
    project = await create_project(db, user, organization=org)
    for i in range(7):
        await create_environment(db, project, name=f"env-{i}",
                                 type=("staging", "production")[i % 2])
    await create_environment(db, project, name="old", archived=True)
    url = f"/projects/{project.id}/environments"

    # The items are read as plain rows beside their project: each must be what the declared
    # model makes of the ORM row with its relations.
    stmt = EnvironmentRepository.with_relations(
        select(Environment).where(Environment.project_id == project.id,
                                  Environment.archived_at.is_(None))
    ).order_by(Environment.name)
    expected = [schemas.EnvironmentRelation.model_validate(e).model_dump(mode="json")
                for e in (await db.scalars(stmt)).all()]
    r = await client.get(url, params={"per_page": 3}, headers=auth(token))
    assert r.status_code == 200 and r.json() == expected[:3]
    assert r.headers["X-Total-Count"] == "7"
    r = await client.get(url, params={"per_page": 3, "page": 3}, headers=auth(token))
    assert r.json() == expected[6:] and r.headers["X-Total-Count"] == "7"
    # Past the end no row carries the total: it is still counted.
    r = await client.get(url, params={"per_page": 3, "page": 4}, headers=auth(token))
    assert r.status_code == 200 and r.json() == []
    assert r.headers["X-Total-Count"] == "7"
    assert 'page=3&per_page=3>; rel="last"' in r.headers["Link"]
    r = await client.get(url + "/archived", params={"page": 2}, headers=auth(token))
    assert r.json() == [] and r.headers["X-Total-Count"] == "1"
    r = await client.get(url + "/archived", headers=auth(token))
    assert [e["name"] for e in r.json()] == ["old"] and r.headers["X-Total-Count"] == "1"


async def test_read_only_team_member_reads_environment_but_cannot_change_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, owner_token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    shared = await create_environment(db, project, name="shared")
    hidden = await create_environment(db, project, name="hidden")
    guest, guest_token = await user_with_token(db)

    # Not yet invited: nothing is visible.
    r = await client.get(f"/environments/{shared.id}", headers=auth(guest_token))
    assert r.status_code == 404

    # Invite the guest into a team over HTTP and link the team with a read-only role.
    r = await client.post(
        f"/organizations/{org.id}/teams", json={"name": "Guests"}, headers=auth(owner_token)
    )
    team_id = r.json()["id"]
    r = await client.post(
        f"/teams/{team_id}/invitations",
        json={"type": "private", "email": guest.email},
        headers=auth(owner_token),
    )
    assert r.status_code == 201, r.text
    invitation_id = r.json()["id"]
    r = await client.post(f"/team-invitations/{invitation_id}/accept", headers=auth(guest_token))
    assert r.status_code == 204, r.text
    read_only = await create_role(db, permissions=["environment:read", "server:read"])
    r = await client.post(
        f"/environments/{shared.id}/teams/{team_id}/link",
        json={"role_id": read_only.id},
        headers=auth(owner_token),
    )
    assert r.status_code == 204, r.text

    r = await client.get(f"/environments/{shared.id}", headers=auth(guest_token))
    assert r.status_code == 200
    assert r.json()["current_user_permissions"] == ["environment:read", "server:read"]
    assert [t["id"] for t in r.json()["teams"]] == [team_id]
    r = await client.get(f"/projects/{project.id}/environments", headers=auth(guest_token))
    assert [e["id"] for e in r.json()] == [shared.id]
    r = await client.get(f"/environments/{hidden.id}", headers=auth(guest_token))
    assert r.status_code == 404
    r = await client.put(
        f"/environments/{shared.id}",
        json={"id": shared.id, "type": "production", "name": "mine"},
        headers=auth(guest_token),
    )
    assert r.status_code == 403
    for action in ("archive", "unarchive"):
        r = await client.post(f"/environments/{shared.id}/{action}", headers=auth(guest_token))
        assert r.status_code == 403
    r = await client.delete(f"/environments/{shared.id}", headers=auth(guest_token))
    assert r.status_code == 403
    await db.refresh(shared)
    assert shared.name == "shared" and shared.archived_at is None


async def test_project_token_without_delete_gets_403(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, _ = await user_with_token(db)
    project = await create_project(db, owner)
    other_project = await create_project(db, owner)
    env = await create_environment(db, project)
    foreign_env = await create_environment(db, other_project)
    deployer = await create_role(
        db, permissions=["environment:read", "application:read", "application:deploy"]
    )
    _, secret = await create_project_token(db, project, deployer, owner)
    r = await client.get(f"/environments/{env.id}", headers=auth(secret))
    assert r.status_code == 200
    r = await client.delete(f"/environments/{env.id}", headers=auth(secret))
    assert r.status_code == 403
    r = await client.get(f"/environments/{foreign_env.id}", headers=auth(secret))
    assert r.status_code == 404
    r = await client.post(
        f"/projects/{project.id}/environments",
        json={"type": "staging", "name": "s"},
        headers=auth(secret),
    )
    assert r.status_code == 403
    assert await db.get(Environment, env.id) is not None


async def test_team_link_on_organization_reaches_every_environment(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, _ = await user_with_token(db)
    member, token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    env = await create_environment(db, project)
    team = await create_team(db, organization=org, members=(member,))
    admin = await create_role(db, permissions=["environment:read", "environment:update"])
    await link_team(db, team, admin, organization=org)
    r = await client.put(
        f"/environments/{env.id}",
        json={"id": env.id, "type": "staging", "name": "renamed"},
        headers=auth(token),
    )
    assert r.status_code == 204

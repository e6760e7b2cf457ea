from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import hash_token
from app.tokens.models import ApiToken
from tests.factories import (
    auth,
    create_organization,
    create_pat,
    create_project,
    create_project_token,
    create_role,
    create_user,
    user_with_token,
)


def _future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def test_create_personal_access_token_shows_secret_once(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user, token = await user_with_token(db)
    r = await client.post(
        "/users/personal-access-tokens",
        headers=auth(token),
        json={"name": "deploy script", "expires_at": _future()},
    )
    assert r.status_code == 201
    created = r.json()
    assert created["token"].startswith("devopness_pat_")
    assert created["status"] == "active" and created["type"] == "personal_access_token"
    assert created["user"]["id"] == user.id

    stored = await db.get(ApiToken, created["id"])
    assert stored is not None
    assert stored.token_hash == hash_token(created["token"])
    assert created["token"] not in (stored.token_hash, stored.name)

    r = await client.get(f"/users/personal-access-tokens/{created['id']}", headers=auth(token))
    assert r.status_code == 200
    assert r.json()["token"] is None

    # The new token works on its own and records its use.
    r = await client.get("/users/me", headers=auth(created["token"]))
    assert r.status_code == 200 and r.json()["id"] == user.id
    await db.refresh(stored)
    assert stored.last_used_at is not None


async def test_create_validates_name_and_expiry(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    _, token = await user_with_token(db)
    cases = [
        ({"name": "ab", "expires_at": _future()}, "name"),
        (
            {
                "name": "valid name",
                "expires_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            },
            "expires_at",
        ),
        ({"name": "valid name", "expires_at": _future(400)}, "expires_at"),
        ({"name": "valid name", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "valid name"}, "expires_at"),
        ({"name": "x" * 256, "expires_at": _future()}, "name"),
    ]
    for body, field in cases:
        r = await client.post("/users/personal-access-tokens", headers=auth(token), json=body)
        assert r.status_code == 422, body
        assert field in r.json()["errors"], (body, r.json())
    r = await client.post("/users/personal-access-tokens", headers=auth(token))
    assert r.status_code == 422
    assert set(r.json()["errors"]) == {"name", "expires_at"}
    count = len((await db.scalars(select(ApiToken))).all())
    assert count == 1  # only the fixture's token


async def test_list_pages_with_link_header(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user, token = await user_with_token(db)
    for _ in range(24):
        await create_pat(db, user)
    other, _ = await user_with_token(db)

    seen: set[str] = set()
    for page in (1, 2, 3):
        r = await client.get(
            "/users/personal-access-tokens",
            headers=auth(token),
            params={"page": page, "per_page": 10},
        )
        assert r.status_code == 200
        items = r.json()
        assert len(items) == (10 if page < 3 else 5)
        assert all(item["user"]["id"] == user.id for item in items)
        seen |= {item["id"] for item in items}
        link = r.headers["Link"]
        assert 'page=1&per_page=10>; rel="first"' in link
        assert 'page=3&per_page=10>; rel="last"' in link
        assert ('rel="prev"' in link) == (page > 1)
        assert ('rel="next"' in link) == (page < 3)
        assert link.startswith("<http://testserver/users/personal-access-tokens?")
    assert len(seen) == 25

    r = await client.get(
        "/users/personal-access-tokens", headers=auth(token), params={"page": 9, "per_page": 10}
    )
    assert r.status_code == 200 and r.json() == []
    for params in ({"per_page": 101}, {"per_page": 0}, {"page": 0}, {"page": "x"}):
        r = await client.get("/users/personal-access-tokens", headers=auth(token), params=params)
        assert r.status_code == 422, params
    assert other.id != user.id


async def test_list_is_one_query_per_page(
    client: httpx.AsyncClient, db: AsyncSession, count_queries: object
) -> None:
    user, token = await user_with_token(db)
    for _ in range(15):
        await create_pat(db, user)
    with count_queries() as q:  # type: ignore[operator]
        r = await client.get("/users/personal-access-tokens", headers=auth(token))
    assert r.status_code == 200 and len(r.json()) == 16
    # auth lookup + last_used_at write + count + page + user relation
    assert q.count <= 5, q.statements


async def test_revoke_and_expiry_end_a_token(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user, token = await user_with_token(db)
    victim, victim_secret = await create_pat(db, user)
    assert (await client.get("/users/me", headers=auth(victim_secret))).status_code == 200

    r = await client.delete(
        f"/users/personal-access-tokens/{victim.id}/revoke", headers=auth(token)
    )
    assert r.status_code == 204 and r.content == b""
    r = await client.get("/users/me", headers=auth(victim_secret))
    assert r.status_code == 401
    assert "revoked" in r.json()["message"]
    r = await client.get(f"/users/personal-access-tokens/{victim.id}", headers=auth(token))
    assert r.json()["status"] == "revoked" and r.json()["revoked_at"]

    expired, expired_secret = await create_pat(db, user, expires_in=timedelta(seconds=-1))
    r = await client.get("/users/me", headers=auth(expired_secret))
    assert r.status_code == 401 and "expired" in r.json()["message"]
    r = await client.get(f"/users/personal-access-tokens/{expired.id}", headers=auth(token))
    assert r.json()["status"] == "expired"


async def test_rotate_replaces_the_secret(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user, token = await user_with_token(db)
    target, old_secret = await create_pat(db, user)
    expires = _future(60)

    r = await client.post(
        f"/users/personal-access-tokens/{target.id}/rotate",
        headers=auth(token),
        json={"id": "someone-else", "expires_at": expires},
    )
    assert r.status_code == 422 and "id" in r.json()["errors"]

    r = await client.post(
        f"/users/personal-access-tokens/{target.id}/rotate",
        headers=auth(token),
        json={"id": target.id, "expires_at": expires},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == target.id and body["token"] and body["token"] != old_secret
    assert (await client.get("/users/me", headers=auth(old_secret))).status_code == 401
    assert (await client.get("/users/me", headers=auth(body["token"]))).status_code == 200

    await client.delete(f"/users/personal-access-tokens/{target.id}/revoke", headers=auth(token))
    r = await client.post(
        f"/users/personal-access-tokens/{target.id}/rotate",
        headers=auth(token),
        json={"id": target.id, "expires_at": expires},
    )
    assert r.status_code == 409


async def test_other_users_tokens_are_invisible(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    _, token = await user_with_token(db)
    other = await create_user(db)
    theirs, their_secret = await create_pat(db, other)
    base = f"/users/personal-access-tokens/{theirs.id}"
    assert (await client.get(base, headers=auth(token))).status_code == 404
    assert (await client.delete(f"{base}/revoke", headers=auth(token))).status_code == 404
    r = await client.post(
        f"{base}/rotate", headers=auth(token), json={"id": theirs.id, "expires_at": _future()}
    )
    assert r.status_code == 404
    assert (await client.get("/users/me", headers=auth(their_secret))).status_code == 200
    r = await client.get("/users/personal-access-tokens", headers=auth(token))
    assert theirs.id not in {t["id"] for t in r.json()}


# project API tokens


async def test_project_token_lifecycle(client: httpx.AsyncClient, db: AsyncSession) -> None:
    owner, token = await user_with_token(db)
    project = await create_project(db, owner)
    role = await create_role(db, permissions=["server:read", "application:deploy"])

    r = await client.post(
        f"/projects/{project.id}/tokens",
        headers=auth(token),
        json={"name": "ci deployer", "role_id": role.id, "expires_at": _future()},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["token"].startswith("devopness_proj_")
    assert created["type"] == "project_api_token"
    assert created["project"]["id"] == project.id
    assert created["role"]["id"] == role.id
    assert created["role"]["permissions"] == ["server:read", "application:deploy"]

    r = await client.get(f"/projects/{project.id}/tokens", headers=auth(token))
    assert r.status_code == 200 and [t["id"] for t in r.json()] == [created["id"]]
    assert "Link" in r.headers
    r = await client.get(f"/projects/{project.id}/tokens/{created['id']}", headers=auth(token))
    assert r.status_code == 200 and r.json()["token"] is None

    r = await client.post(
        f"/projects/{project.id}/tokens/{created['id']}/rotate",
        headers=auth(token),
        json={"id": created["id"], "expires_at": _future(10)},
    )
    assert r.status_code == 200
    rotated = r.json()["token"]
    assert rotated and rotated != created["token"]

    # A project token may not manage tokens, even of its own project.
    r = await client.get(f"/projects/{project.id}/tokens", headers=auth(rotated))
    assert r.status_code == 403

    r = await client.delete(
        f"/projects/{project.id}/tokens/{created['id']}/revoke", headers=auth(token)
    )
    assert r.status_code == 204
    assert (
        await client.get(f"/projects/{project.id}/tokens", headers=auth(rotated))
    ).status_code == 401
    stored = await db.get(ApiToken, created["id"])
    assert stored is not None
    await db.refresh(stored)
    assert stored.revoked_at is not None


async def test_project_token_create_validation(client: httpx.AsyncClient, db: AsyncSession) -> None:
    owner, token = await user_with_token(db)
    project = await create_project(db, owner)
    stranger = await create_user(db)
    foreign_org = await create_organization(db, stranger)
    foreign_role = await create_role(db, permissions=["server:read"], organization=foreign_org)

    r = await client.post(
        f"/projects/{project.id}/tokens",
        headers=auth(token),
        json={"name": "x", "expires_at": _future()},
    )
    assert r.status_code == 422
    assert set(r.json()["errors"]) == {"name", "role_id"}
    for role_id in (foreign_role.id, 999999):
        r = await client.post(
            f"/projects/{project.id}/tokens",
            headers=auth(token),
            json={"name": "valid name", "role_id": role_id, "expires_at": _future()},
        )
        assert r.status_code == 422 and "role_id" in r.json()["errors"]
    assert (await db.scalars(select(ApiToken).where(ApiToken.project_id == project.id))).all() == []


async def test_project_tokens_of_other_tenants_are_invisible(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner = await create_user(db)
    project = await create_project(db, owner)
    role = await create_role(db, permissions=["server:read"])
    theirs, _ = await create_project_token(db, project, role, owner)

    _, intruder = await user_with_token(db)
    other_owner = await create_user(db)
    other_project = await create_project(db, other_owner)
    _, other_project_token = await create_project_token(db, other_project, role, other_owner)

    for credential in (intruder, other_project_token):
        base = f"/projects/{project.id}/tokens"
        assert (await client.get(base, headers=auth(credential))).status_code == 404
        assert (
            await client.get(f"{base}/{theirs.id}", headers=auth(credential))
        ).status_code == 404
        r = await client.post(
            base,
            headers=auth(credential),
            json={"name": "sneaky", "role_id": role.id, "expires_at": _future()},
        )
        assert r.status_code == 404
        r = await client.delete(f"{base}/{theirs.id}/revoke", headers=auth(credential))
        assert r.status_code == 404
        r = await client.post(
            f"{base}/{theirs.id}/rotate",
            headers=auth(credential),
            json={"id": theirs.id, "expires_at": _future()},
        )
        assert r.status_code == 404
    await db.refresh(theirs)
    assert theirs.revoked_at is None
    assert (await client.get("/projects/999999/tokens", headers=auth(intruder))).status_code == 404
    assert (await client.get("/projects/abc/tokens", headers=auth(intruder))).status_code == 404

"""Delegation: nobody hands out more than they hold, and a token is never more than its maker.

Each test acts as a limited team member (or her project token) would, through plain HTTP:
- a project token is at most its creator's CURRENT rights in its project, checked on use;
- minting a token, creating or editing a role, linking a team or inviting into a linked
  team never grants a permission the caller lacks at that scope;
- retrying or cancelling an action needs the permission of the action's own operation.
Owners keep every power.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.catalogue import ALL_PERMISSIONS
from app.core.logging import redact
from app.core.security import hash_token
from app.roles.models import Role
from app.teams.models import TeamInvitation, TeamLink
from app.tokens.models import ApiToken, ApiTokenType
from tests import reference
from tests import resource_factories as rf
from tests.factories import (
    auth,
    create_environment,
    create_organization,
    create_project,
    create_project_token,
    create_role,
    create_team,
    create_user,
    link_team,
    user_with_token,
)

# What a limited member holds in the project: she may see it and mint tokens, nothing more.
MEMBER = [
    "project:read",
    "environment:read",
    "server:read",
    "team:read",
    "api_token:read",
    "api_token:create",
]


def _future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def _owner_role(db: AsyncSession) -> Role:
    """The predefined Owner role: seeded by the migrations (tests empty the tables, so a
    later test puts the same role back)."""
    role = await db.scalar(
        select(Role).where(
            Role.name == "Owner", Role.organization_id.is_(None), Role.project_id.is_(None)
        )
    )
    return role or await create_role(db, permissions=sorted(ALL_PERMISSIONS), name="Owner")


async def _tokens_of(db: AsyncSession, project_id: int) -> int:
    return int(
        await db.scalar(
            select(func.count()).select_from(ApiToken).where(ApiToken.project_id == project_id)
        )
        or 0
    )


# ------------------------------------------------------------------ hole 4: token minting


async def test_member_cannot_mint_a_token_with_rights_she_lacks(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, owner_token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    member, member_token = await user_with_token(db)
    team = await create_team(db, organization=org, members=(member,))
    await link_team(db, team, await create_role(db, permissions=MEMBER), project=project)
    owner_role = await _owner_role(db)

    r = await client.post(
        f"/projects/{project.id}/tokens",
        headers=auth(member_token),
        json={"name": "escalate", "role_id": owner_role.id, "expires_at": _future()},
    )
    assert r.status_code == 403, r.text
    assert r.json()["message"]
    assert await _tokens_of(db, project.id) == 0

    # A role within what she holds is fine (the token-only api_token:* rights aside).
    within = await create_role(db, permissions=["project:read", "server:read"])
    r = await client.post(
        f"/projects/{project.id}/tokens",
        headers=auth(member_token),
        json={"name": "reader", "role_id": within.id, "expires_at": _future()},
    )
    assert r.status_code == 201, r.text

    # The owner keeps full power: an Owner-role token for her own project.
    r = await client.post(
        f"/projects/{project.id}/tokens",
        headers=auth(owner_token),
        json={"name": "owner ci", "role_id": owner_role.id, "expires_at": _future()},
    )
    assert r.status_code == 201, r.text
    owners = r.json()
    r = await client.post(
        f"/projects/{project.id}/teams", headers=auth(owners["token"]), json={"name": "ci team"}
    )
    assert r.status_code == 201, r.text

    # Rotating hands the new secret to whoever rotates: the owner's token stays hers.
    await link_team(
        db, await create_team(db, organization=org, members=(member,)),
        await create_role(db, permissions=["project:read", "api_token:update"]), project=project,
    )
    rotate = f"/projects/{project.id}/tokens/{owners['id']}/rotate"
    r = await client.post(
        rotate, headers=auth(member_token), json={"id": owners["id"], "expires_at": _future()}
    )
    assert r.status_code == 403, r.text
    r = await client.post(
        f"/projects/{project.id}/teams", headers=auth(owners["token"]), json={"name": "still"}
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        rotate, headers=auth(owner_token), json={"id": owners["id"], "expires_at": _future()}
    )
    assert r.status_code == 200, r.text


async def test_project_token_is_bounded_by_its_creator_current_rights(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, owner_token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    environment = await create_environment(db, project)
    member = await create_user(db)
    team = await create_team(db, organization=org, members=(member,))
    member_role = await create_role(db, permissions=MEMBER, organization=org)
    await link_team(db, team, member_role, project=project)
    # A token bound to the Owner role, e.g. minted before minting was checked.
    _, secret = await create_project_token(db, project, await _owner_role(db), member)

    r = await client.get(f"/projects/{project.id}", headers=auth(secret))
    assert r.status_code == 200, r.text
    r = await client.get(f"/environments/{environment.id}/servers", headers=auth(secret))
    assert r.status_code == 200, r.text
    # The role says team:create, its creator does not hold it: refused.
    r = await client.post(
        f"/projects/{project.id}/teams", headers=auth(secret), json={"name": "sneaky team"}
    )
    assert r.status_code == 403, r.text
    r = await client.delete(f"/environments/{environment.id}", headers=auth(secret))
    assert r.status_code in (403, 405), r.text
    r = await client.post(
        f"/projects/{project.id}/roles",
        headers=auth(secret),
        json={"name": "Sneaky", "permissions": ["server:read"]},
    )
    assert r.status_code == 403, r.text

    # Her rights shrink: the token's shrink at once.
    r = await client.put(
        f"/roles/{member_role.id}",
        headers=auth(owner_token),
        json={
            "id": member_role.id,
            "name": member_role.name,
            "permissions": [p for p in MEMBER if p != "server:read"],
        },
    )
    assert r.status_code == 204, r.text
    r = await client.get(f"/environments/{environment.id}/servers", headers=auth(secret))
    assert r.status_code == 403, r.text

    # She leaves the team: the token has nothing left.
    r = await client.delete(f"/teams/{team.id}/members/{member.id}", headers=auth(owner_token))
    assert r.status_code == 204, r.text
    for path in (f"/projects/{project.id}", f"/environments/{environment.id}"):
        r = await client.get(path, headers=auth(secret))
        assert r.status_code == 401, (path, r.text)
    r = await client.get("/projects", headers=auth(secret))
    assert r.status_code == 401 or project.id not in [p["id"] for p in r.json()]


async def test_token_of_a_member_reaching_one_environment_sees_only_that_one(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner = await create_user(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    reached = await create_environment(db, project)
    hidden = await create_environment(db, project)
    member = await create_user(db)
    team = await create_team(db, organization=org, members=(member,))
    await link_team(
        db, team, await create_role(db, permissions=["environment:read", "server:read"]),
        environment=reached,
    )
    _, secret = await create_project_token(db, project, await _owner_role(db), member)

    r = await client.get(f"/projects/{project.id}/environments", headers=auth(secret))
    assert r.status_code == 200, r.text
    assert [e["id"] for e in r.json()] == [reached.id]
    r = await client.get(f"/environments/{reached.id}", headers=auth(secret))
    assert r.status_code == 200, r.text
    r = await client.get(f"/environments/{hidden.id}", headers=auth(secret))
    assert r.status_code == 404, r.text


# ------------------------------------------------------------------ roles


async def test_role_create_and_update_cannot_exceed_the_editor(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, owner_token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    editor, editor_token = await user_with_token(db)
    team = await create_team(db, organization=org, members=(editor,))
    held = ["role:read", "role:create", "role:update", "project:read", "server:read"]
    own_role = await create_role(db, permissions=held, organization=org)
    await link_team(db, team, own_role, organization=org)

    # Her own team's role: adding server:delete would hand it to herself.
    r = await client.put(
        f"/roles/{own_role.id}",
        headers=auth(editor_token),
        json={"id": own_role.id, "name": own_role.name,
              "permissions": [*held, "server:delete"]},
    )
    assert r.status_code == 403, r.text
    await db.refresh(own_role)
    assert "server:delete" not in own_role.permissions

    for path in (f"/organizations/{org.id}/roles", f"/projects/{project.id}/roles"):
        r = await client.post(
            path, headers=auth(editor_token),
            json={"name": "Admins", "permissions": ["server:read", "server:delete"]},
        )
        assert r.status_code == 403, (path, r.text)
    assert await db.scalar(select(Role).where(Role.name == "Admins")) is None

    r = await client.post(
        f"/organizations/{org.id}/roles", headers=auth(editor_token),
        json={"name": "Viewers", "permissions": ["server:read"]},
    )
    assert r.status_code == 201, r.text
    viewers = r.json()["id"]
    # Renaming, or dropping rights, stays possible.
    r = await client.put(
        f"/roles/{viewers}", headers=auth(editor_token),
        json={"id": viewers, "name": "Lookers", "permissions": []},
    )
    assert r.status_code == 204, r.text

    # A role the owner filled with more than the editor holds: she may rename it (granting
    # nothing new) but not add to it.
    wide = await create_role(db, permissions=["server:read", "server:delete"], organization=org)
    r = await client.put(
        f"/roles/{wide.id}", headers=auth(editor_token),
        json={"id": wide.id, "name": "Renamed", "permissions": ["server:read", "server:delete"]},
    )
    assert r.status_code == 204, r.text
    r = await client.put(
        f"/roles/{wide.id}", headers=auth(editor_token),
        json={"id": wide.id, "name": "Renamed",
              "permissions": ["server:read", "server:delete", "server:update"]},
    )
    assert r.status_code == 403, r.text

    # The owner holds everything.
    r = await client.put(
        f"/roles/{own_role.id}", headers=auth(owner_token),
        json={"id": own_role.id, "name": own_role.name, "permissions": [*held, "server:delete"]},
    )
    assert r.status_code == 204, r.text


# ------------------------------------------------------------------ team links and invitations


async def test_team_links_and_invitations_cannot_exceed_the_manager(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, owner_token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    environment = await create_environment(db, project)
    manager, manager_token = await user_with_token(db)
    managers = await create_team(db, organization=org, members=(manager,))
    held = ["team:read", "team:update", "project:read", "environment:read", "server:read"]
    await link_team(db, managers, await create_role(db, permissions=held), organization=org)
    owner_role = await _owner_role(db)
    target = await create_team(db, organization=org)

    for path in (
        f"/organizations/{org.id}/teams/{target.id}/link",
        f"/projects/{project.id}/teams/{target.id}/link",
        f"/environments/{environment.id}/teams/{target.id}/link",
    ):
        r = await client.post(path, json={"role_id": owner_role.id}, headers=auth(manager_token))
        assert r.status_code == 403, (path, r.text)
    assert await db.scalar(select(TeamLink).where(TeamLink.team_id == target.id)) is None
    within = await create_role(db, permissions=["project:read", "server:read"])
    r = await client.post(
        f"/projects/{project.id}/teams/{target.id}/link",
        json={"role_id": within.id}, headers=auth(manager_token),
    )
    assert r.status_code == 204, r.text

    # A team the owner linked as Owner: inviting someone into it hands out the Owner role.
    admins = await create_team(db, organization=org)
    await link_team(db, admins, owner_role, project=project)
    r = await client.post(
        f"/teams/{admins.id}/invitations", headers=auth(manager_token),
        json={"type": "private", "email": "accomplice@example.com"},
    )
    assert r.status_code == 403, r.text
    assert await db.scalar(
        select(TeamInvitation).where(TeamInvitation.team_id == admins.id)
    ) is None
    # Into the team linked within her rights: fine. The owner: anything.
    r = await client.post(
        f"/teams/{target.id}/invitations", headers=auth(manager_token),
        json={"type": "private", "email": "colleague@example.com"},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/teams/{admins.id}/invitations", headers=auth(owner_token),
        json={"type": "private", "email": "new-admin@example.com"},
    )
    assert r.status_code == 201, r.text


# ------------------------------------------------------------------ hole 9: retry and cancel


async def _failed_stop(
    client: httpx.AsyncClient, t: rf.Tenant, service_id: int, server_id: int
) -> int:
    """The owner stops the service; its server listens on nothing, so the action fails."""
    r = await client.post(f"/services/{service_id}/stop", headers=t.headers)
    action: dict[str, Any] = await rf.assert_action_started(
        client, r, t, resource_type="service", resource_id=service_id, operation="stop",
        server_ids=[server_id],
    )
    return int(action["id"])


async def test_retry_and_cancel_need_the_operation_permission(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await rf.create_tenant(db)
    service = await rf.create_service(db, t)
    server = await rf.create_server(db, t)
    await rf.link(db, "service", service.id, server)
    action_id = await _failed_stop(client, t, service.id, server.id)

    no_stop = await create_role(
        db, permissions=["service:read", "action:read", "action:retry", "server:read"]
    )
    _, limited = await create_project_token(db, t.project, no_stop, t.user)
    r = await client.post(f"/services/{service.id}/stop", headers=auth(limited))
    assert r.status_code == 403, r.text
    r = await client.post(f"/actions/{action_id}/retry", headers=auth(limited))
    assert r.status_code == 403, r.text
    r = await client.post(f"/actions/{action_id}/cancel", headers=auth(limited))
    assert r.status_code == 403, r.text
    r = await client.get(f"/actions/{action_id}", headers=t.headers)
    assert r.json()["children"] == []

    # Stopping without the right to retry is not enough either.
    stop_only = await create_role(db, permissions=["service:read", "service:stop", "action:read"])
    _, stopper = await create_project_token(db, t.project, stop_only, t.user)
    r = await client.post(f"/actions/{action_id}/retry", headers=auth(stopper))
    assert r.status_code == 403, r.text

    both = await create_role(
        db, permissions=["service:read", "service:stop", "action:read", "action:retry"]
    )
    _, allowed = await create_project_token(db, t.project, both, t.user)
    r = await client.post(f"/actions/{action_id}/retry", headers=auth(allowed))
    assert r.status_code == 201, r.text
    retried = await client.get(
        f"/actions/{r.json()['id']}", params={"wait": 30}, headers=t.headers
    )
    assert retried.json()["status"] in ("failed", "completed")
    # Finished: the permission is checked first, then the state.
    r = await client.post(f"/actions/{action_id}/cancel", headers=auth(allowed))
    assert r.status_code == 409, r.text


# ------------------------------------------------------------------ issue 16.4: token prefixes


def _documented_prefixes() -> dict[str, str]:
    current, _ = reference.documents()
    schema = current["components"]["schemas"]["ApiTokenTypePrefix"]
    by_kind = {p.rsplit("_", 1)[1]: p for p in schema["enum"]}
    return {
        "personal_access_token": by_kind["pat"] + "_",
        "project_api_token": by_kind["proj"] + "_",
    }


async def test_new_tokens_carry_the_documented_prefixes(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    prefixes = _documented_prefixes()
    # What the official MCP server looks for to recognise a personal access token.
    assert prefixes["personal_access_token"] == "devopness_pat_"
    owner, token = await user_with_token(db)
    project = await create_project(db, owner)
    r = await client.post(
        "/users/personal-access-tokens", headers=auth(token),
        json={"name": "mcp", "expires_at": _future()},
    )
    assert r.status_code == 201, r.text
    pat = r.json()["token"]
    assert pat.startswith(prefixes["personal_access_token"])
    assert (await client.get("/users/me", headers=auth(pat))).json()["id"] == owner.id

    role = await create_role(db, permissions=["project:read"])
    r = await client.post(
        f"/projects/{project.id}/tokens", headers=auth(token),
        json={"name": "ci deployer", "role_id": role.id, "expires_at": _future()},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    project_token = created["token"]
    assert project_token.startswith(prefixes["project_api_token"])
    r = await client.get(f"/projects/{project.id}", headers=auth(project_token))
    assert r.status_code == 200, r.text

    # Rotation issues the documented prefix as well.
    r = await client.post(
        f"/projects/{project.id}/tokens/{created['id']}/rotate",
        headers=auth(token), json={"id": created["id"], "expires_at": _future()},
    )
    assert r.status_code == 200, r.text
    rotated = r.json()["token"]
    assert rotated.startswith(prefixes["project_api_token"])
    for secret in (pat, rotated):
        assert secret not in redact(f"Authorization failed for {secret} today")


async def test_tokens_issued_with_the_old_prefixes_keep_working(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner = await create_user(db)
    project = await create_project(db, owner)
    role = await create_role(db, permissions=["project:read"])
    legacy = {
        ApiTokenType.PERSONAL_ACCESS_TOKEN: "dvp_pat_0ldT0kenSecretValue0000000000000000000001",
        ApiTokenType.PROJECT_API_TOKEN: "dvp_prj_0ldT0kenSecretValue0000000000000000000002",
    }
    for kind, secret in legacy.items():
        db.add(ApiToken(
            type=kind, name=f"old {kind}", token_hash=hash_token(secret), user_id=owner.id,
            project_id=project.id if kind == ApiTokenType.PROJECT_API_TOKEN else None,
            role_id=role.id if kind == ApiTokenType.PROJECT_API_TOKEN else None,
            expires_at=datetime.now(UTC) + timedelta(days=5),
        ))
    await db.commit()
    r = await client.get("/users/me", headers=auth(legacy[ApiTokenType.PERSONAL_ACCESS_TOKEN]))
    assert r.status_code == 200 and r.json()["id"] == owner.id
    r = await client.get(
        f"/projects/{project.id}", headers=auth(legacy[ApiTokenType.PROJECT_API_TOKEN])
    )
    assert r.status_code == 200, r.text
    for secret in legacy.values():
        assert secret not in redact(f"token {secret} used")

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.teams.models import Team, TeamInvitation, TeamLink, TeamMember
from tests.conftest import Mailbox
from tests.factories import (
    auth,
    create_environment,
    create_invitation,
    create_organization,
    create_project,
    create_role,
    create_team,
    link_team,
    user_with_token,
)


async def test_team_lifecycle_and_members(client: httpx.AsyncClient, db: AsyncSession) -> None:
    owner, token = await user_with_token(db)
    mate, mate_token = await user_with_token(db)
    org = await create_organization(db, owner)
    r = await client.post(
        f"/organizations/{org.id}/teams",
        json={"name": "Ops", "photo_url": "https://example.com/t.png"},
        headers=auth(token),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["organization"]["id"] == org.id and body["project"] is None
    assert [u["id"] for u in body["users"]] == [owner.id]
    team_id = body["id"]
    db.add(TeamMember(team_id=team_id, user_id=mate.id))
    await db.commit()

    r = await client.get(f"/organizations/{org.url_slug}/teams", headers=auth(token))
    assert [t["id"] for t in r.json()] == [team_id]
    r = await client.get(f"/teams/{team_id}/members", headers=auth(token))
    assert {m["user"]["id"] for m in r.json()} == {owner.id, mate.id}
    r = await client.get(f"/teams/{team_id}/members/{mate.id}", headers=auth(token))
    assert r.status_code == 200 and r.json()["team"]["id"] == team_id
    r = await client.get(f"/teams/{team_id}/members/999999", headers=auth(token))
    assert r.status_code == 404

    # A member sees the team but cannot change it, and may leave it.
    r = await client.get(f"/teams/{team_id}", headers=auth(mate_token))
    assert r.status_code == 200
    r = await client.put(
        f"/teams/{team_id}", json={"id": team_id, "name": "Mine"}, headers=auth(mate_token)
    )
    assert r.status_code == 403
    r = await client.delete(f"/teams/{team_id}/members/{owner.id}", headers=auth(mate_token))
    assert r.status_code == 403
    r = await client.delete(f"/teams/{team_id}/members/{mate.id}", headers=auth(mate_token))
    assert r.status_code == 204
    r = await client.get(f"/teams/{team_id}", headers=auth(mate_token))
    assert r.status_code == 404

    r = await client.put(
        f"/teams/{team_id}", json={"id": team_id, "name": "Platform"}, headers=auth(token)
    )
    assert r.status_code == 204
    r = await client.delete(f"/teams/{team_id}", headers=auth(token))
    assert r.status_code == 204
    assert await db.scalar(select(Team).where(Team.id == team_id)) is None


async def test_project_teams_for_older_clients(client: httpx.AsyncClient, db: AsyncSession) -> None:
    owner, token = await user_with_token(db)
    project = await create_project(db, owner)
    r = await client.post(
        f"/projects/{project.id}/teams", json={"name": "Devs"}, headers=auth(token)
    )
    assert r.status_code == 201, r.text
    assert r.json()["project"]["id"] == project.id
    r = await client.get(f"/projects/{project.id}/teams", headers=auth(token))
    assert [t["name"] for t in r.json()] == ["Devs"]


async def test_links_and_memberships(
    client: httpx.AsyncClient, db: AsyncSession, count_queries: Any
) -> None:
    owner, token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    env = await create_environment(db, project)
    team = await create_team(db, organization=org, members=(owner,))
    role = await create_role(db, permissions=["environment:read"])
    for path in (f"/organizations/{org.id}", f"/projects/{project.id}", f"/environments/{env.id}"):
        r = await client.post(
            f"{path}/teams/{team.id}/link", json={"role_id": role.id}, headers=auth(token)
        )
        assert r.status_code == 204, (path, r.text)
    # Linking again changes the role instead of duplicating the link.
    other_role = await create_role(db, permissions=["project:read"])
    r = await client.post(
        f"/projects/{project.id}/teams/{team.id}/link",
        json={"role_id": other_role.id},
        headers=auth(token),
    )
    assert r.status_code == 204

    with count_queries() as q:
        r = await client.get(f"/teams/{team.id}/memberships", headers=auth(token))
    assert r.status_code == 200 and len(r.json()) == 3
    assert q.count <= 16, q.statements
    r = await client.get(f"/teams/{team.id}/memberships?filter_by=environment", headers=auth(token))
    assert [m["environment"]["id"] for m in r.json()] == [env.id]
    r = await client.get(f"/teams/{team.id}/memberships?filter_by=galaxy", headers=auth(token))
    assert r.status_code == 422 and "filter_by" in r.json()["errors"]
    r = await client.get(f"/projects/{project.id}/team-memberships", headers=auth(token))
    assert [m["role"]["id"] for m in r.json()] == [other_role.id]
    r = await client.get(f"/organizations/{org.url_slug}/team-memberships", headers=auth(token))
    assert len(r.json()) == 1
    r = await client.get(f"/environments/{env.id}/team-memberships", headers=auth(token))
    assert len(r.json()) == 1

    for path in (f"/organizations/{org.id}", f"/projects/{project.id}", f"/environments/{env.id}"):
        r = await client.delete(f"{path}/teams/{team.id}/unlink", headers=auth(token))
        assert r.status_code == 204, path
        r = await client.delete(f"{path}/teams/{team.id}/unlink", headers=auth(token))
        assert r.status_code == 404
    assert await db.scalar(select(TeamLink).where(TeamLink.team_id == team.id)) is None


async def test_linking_checks_scope_role_and_escalation(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    other_org = await create_organization(db, owner)
    foreign_team = await create_team(db, organization=other_org)
    r = await client.post(
        f"/projects/{project.id}/teams/{foreign_team.id}/link",
        json={"role_id": (await create_role(db, permissions=[])).id},
        headers=auth(token),
    )
    assert r.status_code == 422 and "team_id" in r.json()["errors"]
    foreign_role = await create_role(db, permissions=[], organization=other_org)
    team = await create_team(db, organization=org)
    r = await client.post(
        f"/projects/{project.id}/teams/{team.id}/link",
        json={"role_id": foreign_role.id},
        headers=auth(token),
    )
    assert r.status_code == 422 and "role_id" in r.json()["errors"]

    # A team manager cannot hand a role holding more than they hold themselves.
    manager, manager_token = await user_with_token(db)
    managers = await create_team(db, organization=org, members=(manager,))
    limited = await create_role(db, permissions=["team:read", "team:update", "project:read"])
    await link_team(db, managers, limited, organization=org)
    admin = await create_role(db, permissions=["project:read", "project:delete"])
    r = await client.post(
        f"/projects/{project.id}/teams/{team.id}/link",
        json={"role_id": admin.id},
        headers=auth(manager_token),
    )
    assert r.status_code == 403
    assert await db.scalar(select(TeamLink).where(TeamLink.team_id == team.id)) is None


async def test_private_invitation_mail_accept_and_pending_list(
    client: httpx.AsyncClient, db: AsyncSession, mailbox: Mailbox
) -> None:
    owner, token = await user_with_token(db)
    invitee, invitee_token = await user_with_token(db)
    _, stranger_token = await user_with_token(db)
    org = await create_organization(db, owner)
    team = await create_team(db, organization=org, members=(owner,))

    r = await client.post(
        f"/teams/{team.id}/invitations", json={"type": "private"}, headers=auth(token)
    )
    assert r.status_code == 422 and "email" in r.json()["errors"]
    r = await client.post(
        f"/teams/{team.id}/invitations",
        json={"type": "private", "email": invitee.email.upper()},
        headers=auth(token),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "pending" and body["public_accept_url"] is None
    invitation_id = body["id"]
    message = mailbox.last_to(invitee.email)
    assert invitation_id in mailbox.body(message)

    r = await client.get(f"/teams/{team.id}/invitations", headers=auth(token))
    assert [i["id"] for i in r.json()] == [invitation_id]
    r = await client.get("/users/team-invitations", headers=auth(invitee_token))
    assert [i["id"] for i in r.json()] == [invitation_id]
    assert r.json()[0]["organization"]["id"] == org.id
    r = await client.get("/users/team-invitations", headers=auth(stranger_token))
    assert r.json() == []

    # Somebody else cannot use it, nor learn that it exists.
    r = await client.post(f"/team-invitations/{invitation_id}/accept", headers=auth(stranger_token))
    assert r.status_code == 404
    r = await client.delete(f"/team-invitations/{invitation_id}", headers=auth(stranger_token))
    assert r.status_code == 404

    r = await client.post(f"/team-invitations/{invitation_id}/accept", headers=auth(invitee_token))
    assert r.status_code == 204
    assert await db.get(TeamMember, (team.id, invitee.id)) is not None
    r = await client.post(f"/team-invitations/{invitation_id}/reject", headers=auth(invitee_token))
    assert r.status_code == 409
    r = await client.get("/users/team-invitations", headers=auth(invitee_token))
    assert r.json() == []


async def test_reject_and_delete_invitation(client: httpx.AsyncClient, db: AsyncSession) -> None:
    owner, token = await user_with_token(db)
    invitee, invitee_token = await user_with_token(db)
    org = await create_organization(db, owner)
    team = await create_team(db, organization=org)
    invitation = await create_invitation(db, team, email=invitee.email, creator=owner)
    r = await client.post(f"/team-invitations/{invitation.id}/reject", headers=auth(invitee_token))
    assert r.status_code == 204
    await db.refresh(invitation)
    assert invitation.status == "rejected"
    r = await client.post(f"/team-invitations/{invitation.id}/accept", headers=auth(invitee_token))
    assert r.status_code == 409
    r = await client.delete(f"/team-invitations/{invitation.id}", headers=auth(token))
    assert r.status_code == 204
    assert await db.scalar(select(TeamInvitation).where(TeamInvitation.id == invitation.id)) is None


async def test_public_invitation_needs_its_token(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner, token = await user_with_token(db)
    joiner, joiner_token = await user_with_token(db)
    org = await create_organization(db, owner)
    team = await create_team(db, organization=org)
    r = await client.post(
        f"/teams/{team.id}/invitations", json={"type": "public"}, headers=auth(token)
    )
    assert r.status_code == 201, r.text
    url = r.json()["public_accept_url"]
    assert r.json()["status"] == "active" and url
    invitation_id = r.json()["id"]
    secret = parse_qs(urlparse(url).query)["token"][0]
    r = await client.post(
        f"/team-invitations/{invitation_id}/accept?token=wrong", headers=auth(joiner_token)
    )
    assert r.status_code == 404
    r = await client.post(
        f"/team-invitations/{invitation_id}/accept",
        params={"token": secret},
        headers=auth(joiner_token),
    )
    assert r.status_code == 204
    assert await db.get(TeamMember, (team.id, joiner.id)) is not None

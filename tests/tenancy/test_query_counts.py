"""No N+1: every tenancy list runs the same number of queries for 2 rows as for 8."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.organizations.models import Organization
from app.projects.models import Project
from app.teams.models import Team, TeamMember
from app.users.models import User
from tests.factories import (
    auth,
    create_environment,
    create_invitation,
    create_organization,
    create_project,
    create_role,
    create_team,
    create_user,
    link_team,
    user_with_token,
)

LISTS = [
    "/organizations",
    "/projects",
    "/users/{user}/projects",
    "/projects/{project}/environments",
    "/projects/{project}/environments/archived",
    "/users/{user}/environments",
    "/organizations/{org}/roles",
    "/projects/{project}/roles",
    "/organizations/{org}/teams",
    "/projects/{project}/teams",
    "/teams/{team}/members",
    "/teams/{team}/memberships",
    "/organizations/{org}/team-memberships",
    "/projects/{project}/team-memberships",
    "/users/team-invitations",
    "/teams/{team}/invitations",
]


async def _grow(
    db: AsyncSession, owner: User, org: Organization, project: Project, team: Team, n: int
) -> None:
    for i in range(n):
        await create_organization(db, owner)
        await create_project(db, owner, organization=org)
        env = await create_environment(db, project)
        await create_environment(db, project, archived=True)
        role = await create_role(db, permissions=["environment:read"], organization=org)
        await create_team(db, organization=org, creator=owner)
        await create_team(db, project=project, creator=owner)
        member = await create_user(db)
        db.add(TeamMember(team_id=team.id, user_id=member.id))
        await db.commit()
        await link_team(db, team, role, environment=env)
        linked = await create_team(db, organization=org, creator=owner)
        await link_team(db, linked, role, organization=org)
        await link_team(db, linked, role, project=project)
        await create_invitation(db, team, email=owner.email, creator=owner)
        await create_invitation(db, team, email=f"guest{i}-{team.id}@example.com", creator=owner)


@pytest.mark.parametrize("template", LISTS)
async def test_list_queries_do_not_grow_with_rows(
    template: str, client: httpx.AsyncClient, db: AsyncSession, count_queries: Any
) -> None:
    owner, token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    team = await create_team(db, organization=org, members=(owner,), creator=owner)
    path = template.format(user=owner.id, org=org.id, project=project.id, team=team.id)
    counts = []
    sizes = []
    for n in (2, 6):
        await _grow(db, owner, org, project, team, n)
        # A warm-up request takes the one-off token bookkeeping out of the count.
        await client.get(path, headers=auth(token))
        with count_queries() as q:
            r = await client.get(path, params={"per_page": 100}, headers=auth(token))
        assert r.status_code == 200, r.text
        counts.append(q.count)
        sizes.append(len(r.json()))
    assert sizes[1] > sizes[0], f"{path}: the fixture did not grow the list ({sizes})"
    assert counts[0] > 0, f"{path}: the counter saw none of the request's queries"
    assert counts[0] == counts[1], (
        f"{path}: {counts[0]} queries for {sizes[0]} rows, {counts[1]} for {sizes[1]}"
    )
    assert counts[1] <= 10, f"{path}: {counts[1]} queries"

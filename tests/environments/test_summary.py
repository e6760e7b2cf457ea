"""Resources registered as living in an environment are counted and block its deletion."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.environments import summary
from app.environments.summary import EnvironmentResource, register_environment_resource
from app.teams.models import TeamLink
from tests.factories import (
    auth,
    create_environment,
    create_organization,
    create_project,
    create_role,
    create_team,
    link_team,
    user_with_token,
)


@pytest.fixture
def links_as_resources() -> Iterator[None]:
    # Team links stand in for a resource family of a later issue: any model with an
    # `environment_id` column registers the same way.
    saved = dict(summary._REGISTRY)
    # Only the stand-in is counted here, whatever families other issues have registered.
    summary._REGISTRY.clear()
    register_environment_resource(
        EnvironmentResource(
            "team-link", "team-links", "Team Link", "Team Links", TeamLink.environment_id
        )
    )
    yield
    summary._REGISTRY.clear()
    summary._REGISTRY.update(saved)


async def test_registered_resources_are_counted_and_block_deletion(
    client: httpx.AsyncClient, db: AsyncSession, links_as_resources: None
) -> None:
    owner, token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    env = await create_environment(db, project)
    empty = await create_environment(db, project)
    team = await create_team(db, organization=org)
    await link_team(db, team, await create_role(db, permissions=[]), environment=env)

    r = await client.get(f"/environments/{env.id}", headers=auth(token))
    assert r.json()["resource_summary"] == [
        {
            "resource_type": "team-link",
            "resource_type_plural": "team-links",
            "resource_type_human_readable": "Team Link",
            "resource_type_human_readable_plural": "Team Links",
            "summary": {"count": 1},
        }
    ]
    r = await client.delete(f"/environments/{env.id}", headers=auth(token))
    assert r.status_code == 409 and "1 team links" in r.json()["message"]
    r = await client.delete(f"/environments/{empty.id}", headers=auth(token))
    assert r.status_code == 204

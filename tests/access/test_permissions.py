"""The authorization layer's semantics, checked directly (no HTTP)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal, PrincipalKind
from app.access.catalogue import ALL_PERMISSIONS, USER_ONLY_PERMISSIONS
from app.access.permissions import Authorizer
from app.core.errors import Forbidden, NotFound
from app.environments.models import Environment
from tests.factories import (
    create_environment,
    create_organization,
    create_project,
    create_role,
    create_team,
    create_user,
    link_team,
)


def _user(user_id: int) -> Principal:
    return Principal(kind=PrincipalKind.PERSONAL_ACCESS_TOKEN, user_id=user_id)


def _token(user_id: int, project_id: int, permissions: set[str]) -> Principal:
    return Principal(
        kind=PrincipalKind.PROJECT_API_TOKEN,
        user_id=user_id,
        token_id="t",
        project_id=project_id,
        permissions=frozenset(permissions),
    )


async def test_owners_hold_everything_and_team_links_add_up(db: AsyncSession) -> None:
    owner = await create_user(db)
    member = await create_user(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    env = await create_environment(db, project)
    other_env = await create_environment(db, project)
    team = await create_team(db, organization=org, members=(member,))
    await link_team(db, team, await create_role(db, permissions=["server:read"]), organization=org)
    await link_team(db, team, await create_role(db, permissions=["server:deploy"]), environment=env)
    authorizer = Authorizer(db)

    found = await authorizer.environment(_user(owner.id), env.id, "server:delete")
    assert set(found.current_user_permissions) == ALL_PERMISSIONS

    found = await authorizer.environment(_user(member.id), env.id, "server:deploy")
    assert found.current_user_permissions == ["server:deploy", "server:read"]
    # The environment link does not reach the sibling environment; the org link does.
    with pytest.raises(Forbidden):
        await authorizer.environment(_user(member.id), other_env.id, "server:deploy")

    ids = set((await db.scalars(authorizer.readable_environment_ids(_user(member.id)))).all())
    assert ids == {env.id, other_env.id}


async def test_strangers_get_not_found_with_the_callers_message(db: AsyncSession) -> None:
    owner = await create_user(db)
    stranger = await create_user(db)
    env = await create_environment(db, await create_project(db, owner))
    with pytest.raises(NotFound, match="Server not found"):
        await Authorizer(db).environment(
            _user(stranger.id), env.id, "server:read", not_found="Server not found."
        )
    with pytest.raises(NotFound):
        await Authorizer(db).environment(_user(owner.id), 999_999, "server:read")


async def test_project_tokens_stay_in_their_project_without_user_only_rights(
    db: AsyncSession,
) -> None:
    owner = await create_user(db)
    project = await create_project(db, owner)
    other = await create_project(db, owner)
    env = await create_environment(db, project)
    foreign = await create_environment(db, other)
    token = _token(owner.id, project.id, {"server:read", "api_token:create"})
    authorizer = Authorizer(db)

    found = await authorizer.environment(token, env.id, "server:read")
    assert found.current_user_permissions == ["server:read"]
    with pytest.raises(Forbidden):
        await authorizer.project(token, project.id, "api_token:create")
    with pytest.raises(NotFound):
        await authorizer.environment(token, foreign.id, "server:read")
    assert USER_ONLY_PERMISSIONS.isdisjoint(authorizer.token_permissions(token))

    rows = (await db.scalars(authorizer.readable_environments(token))).all()
    assert [e.id for e in rows] == [env.id]
    visible = select(Environment.id).where(authorizer.environment_condition(token))
    assert set((await db.scalars(visible)).all()) == {env.id}


async def test_environment_only_access_shows_the_project_partially(db: AsyncSession) -> None:
    owner = await create_user(db)
    guest = await create_user(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    shared = await create_environment(db, project)
    await create_environment(db, project)
    team = await create_team(db, organization=org, members=(guest,))
    await link_team(
        db, team, await create_role(db, permissions=["environment:read"]), environment=shared
    )
    authorizer = Authorizer(db)
    found = await authorizer.project(_user(guest.id), project.id, "project:read")
    assert found.current_user_permissions == ["environment:read", "project:read"]
    listed = (await db.scalars(authorizer.environments_of(_user(guest.id), found))).all()
    assert [e.id for e in listed] == [shared.id]
    with pytest.raises(Forbidden):
        await authorizer.project(_user(guest.id), project.id, "project:update")

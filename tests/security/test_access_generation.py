"""The access cache is on by default, so a change to who may do what, written by anyone (plain
SQL here: an operator, a worker, the CLI), must be seen by the very next request, with no
notice to wait for. Runs in-process on both databases: the request that follows the commit
gets no chance to hear of it any other way than by reading the database.

On PostgreSQL also: the row the writers move is taken at commit, so writers that touch the
access tables and other rows in opposite orders do not deadlock over it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from tests.factories import create_user
from tests.perf.world import World, seed


async def _seeded(db: AsyncSession, settings: Settings) -> World:
    world = await seed(db, settings)
    await db.commit()
    return world


async def _warm(client: httpx.AsyncClient, world: World, path: str) -> None:
    # Three reads: the first records the token's use (a write, so it caches nothing about
    # permissions); the others are served with the token and permissions cached.
    for _ in range(3):
        assert (await client.get(path, headers=world.headers)).status_code == 200


CHANGES = {
    "token revoked": ("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP "
                      "WHERE user_id = :caller AND type = 'personal_access_token'", "/users/me",
                      {401}),
    "user deactivated": ("UPDATE users SET active = false WHERE id = :caller", "/users/me",
                         {401}),
    "team membership removed": ("DELETE FROM team_members WHERE user_id = :caller",
                                "/projects/{project}", {403, 404}),
    "role emptied": ("UPDATE roles SET permissions = '[]' WHERE id = :role",
                     "/projects/{project}", {403, 404}),
    "team unlinked": ("DELETE FROM team_links WHERE team_id = :team", "/projects/{project}",
                      {403, 404}),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_the_next_request_sees_a_change_written_elsewhere(
    change: str, client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    app: Any,
) -> None:
    assert app.state.database.cache.enabled, "the access cache is on by default"
    world = await _seeded(db, settings)
    statement, template, refused = CHANGES[change]
    path = template.format(project=world.project.id)
    await _warm(client, world, path)
    role_id = (await db.execute(text(
        "SELECT role_id FROM team_links WHERE team_id = :team AND organization_id = :org"),
        {"team": world.team.id, "org": world.organization.id})).scalar_one()
    await db.execute(text(statement), {"caller": world.caller.id, "role": role_id,
                                       "team": world.team.id})
    await db.commit()
    answer = await client.get(path, headers=world.headers)
    assert answer.status_code in refused, (change, answer.status_code, answer.text)


async def test_a_change_to_what_does_not_decide_access_keeps_the_cache(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, count_queries: Any,
) -> None:
    world = await _seeded(db, settings)
    path = f"/projects/{world.project.id}"
    await _warm(client, world, path)
    before = (await db.execute(text("SELECT value FROM access_generation"))).scalar_one()
    await db.execute(text("UPDATE users SET name = 'renamed' WHERE id = :id"),
                     {"id": world.caller.id})
    await db.execute(text("UPDATE api_tokens SET last_used_at = CURRENT_TIMESTAMP "
                          "WHERE user_id = :id"), {"id": world.caller.id})
    await db.commit()
    after = (await db.execute(text("SELECT value FROM access_generation"))).scalar_one()
    await db.commit()
    assert after == before


async def test_writers_crossing_access_and_other_rows_do_not_deadlock(
    db: AsyncSession, settings: Settings, postgresql: str,
) -> None:
    """A adds a team member, then updates the project; B updates the project, then adds a
    team member. Were the generation row locked at A's first statement (a plain trigger),
    B would wait for it while holding the project A waits for: a deadlock, which PostgreSQL
    ends by failing one of the two writes."""
    world = await _seeded(db, settings)
    users = [await create_user(db), await create_user(db)]
    await db.commit()
    before = (await db.execute(text("SELECT value FROM access_generation"))).scalar_one()
    await db.commit()
    errors: list[BaseException] = []
    a_wrote, b_locked = threading.Event(), threading.Event()
    add_member = ("INSERT INTO team_members (team_id, user_id, created_at, updated_at) "
                  "VALUES (%s, %s, now(), now())")
    touch_project = "UPDATE projects SET name = name WHERE id = %s"

    def a() -> None:
        try:
            with psycopg.connect(postgresql) as conn:
                conn.execute(add_member, (world.team.id, users[0].id))
                a_wrote.set()
                assert b_locked.wait(10)
                conn.execute(touch_project, (world.project.id,))  # waits for B's commit
        except BaseException as exc:  # asserted below: there must be none
            errors.append(exc)

    def b() -> None:
        try:
            with psycopg.connect(postgresql) as conn:
                assert a_wrote.wait(10)
                conn.execute(touch_project, (world.project.id,))
                b_locked.set()
                conn.execute(add_member, (world.team.id, users[1].id))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    await asyncio.to_thread(lambda: [thread.join(60) for thread in threads])
    assert errors == []
    after = (await db.execute(text("SELECT value FROM access_generation"))).scalar_one()
    await db.commit()
    assert after == before + 2  # once per writing transaction


async def test_a_transaction_moves_the_generation_once_however_many_rows(
    db: AsyncSession, settings: Settings, postgresql: str,
) -> None:
    world = await _seeded(db, settings)
    before = (await db.execute(text("SELECT value FROM access_generation"))).scalar_one()
    await db.execute(text("DELETE FROM team_members WHERE team_id = :team"),
                     {"team": world.team.id})
    await db.execute(text("UPDATE roles SET permissions = '[]' WHERE organization_id = :org"),
                     {"org": world.organization.id})
    await db.commit()
    after = (await db.execute(text("SELECT value FROM access_generation"))).scalar_one()
    await db.commit()
    assert after == before + 1

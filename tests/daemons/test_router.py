from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.daemons.models import Daemon
from tests import resource_factories as f


def body(**overrides: Any) -> dict[str, Any]:
    return {"name": "queue-worker", "command": "php artisan queue:work", "process_count": 3,
            "working_directory": "/srv/app", "run_as_user": "www-data"} | overrides


async def test_create_links_servers_and_application(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    application = await f.create_application(db, t)
    r = await client.post(
        f"/environments/{t.environment.id}/daemons",
        json=body(application_id=application.id, working_directory="current",
                  linked_resources=[{"resource_type": "server", "resource_id": server.id}]),
        headers=t.headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert [s["id"] for s in created["servers"]] == [server.id]
    assert created["application"]["id"] == application.id
    assert created["process_count"] == 3 and created["is_auto_generated"] is False
    stored = await db.get(Daemon, created["id"])
    assert stored is not None and stored.working_directory == "current"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"process_count": 0}, "process_count"),
        ({"process_count": 100}, "process_count"),
        ({"process_count": "many"}, "process_count"),
        ({"name": "has spaces"}, "name"),
        ({"name": "x" * 61}, "name"),
        ({"command": ""}, "command"),
        ({"command": "x" * 256}, "command"),
        ({"run_as_user": "Bad User"}, "run_as_user"),
        ({"working_directory": "relative/path"}, "working_directory"),
        ({"working_directory": "/" + "x" * 255}, "working_directory"),
        ({"application_id": 999999, "working_directory": "rel"}, "application_id"),
        ({"linked_resources": [{"resource_type": "server", "resource_id": 999999}]},
         "linked_resources.0.resource_id"),
        ({"linked_resources": [{"resource_type": "daemon", "resource_id": 1}]},
         "linked_resources.0.resource_type"),
    ],
)
async def test_field_rules(
    overrides: dict[str, Any], field: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/daemons", json=body(**overrides),
                          headers=t.headers)
    assert field in f.field_errors(r), r.json()


async def test_missing_fields_are_named(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/daemons", json={},
                          headers=t.headers)
    errors = f.field_errors(r)
    assert {"name", "command", "process_count", "working_directory", "run_as_user"} <= set(errors)


async def test_relative_directory_needs_an_application(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    application = await f.create_application(db, t)
    r = await client.post(f"/environments/{t.environment.id}/daemons",
                          json=body(application_id=application.id, working_directory="/abs"),
                          headers=t.headers)
    assert "working_directory" in f.field_errors(r)


async def test_application_of_another_environment_is_refused(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    other = await f.create_tenant(db)
    foreign = await f.create_application(db, other)
    r = await client.post(f"/environments/{t.environment.id}/daemons",
                          json=body(application_id=foreign.id, working_directory="x"),
                          headers=t.headers)
    assert "application_id" in f.field_errors(r)


async def test_update_and_unique_name(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    first = await f.create_daemon(db, t, name="first")
    second = await f.create_daemon(db, t, name="second")
    r = await client.put(f"/daemons/{second.id}", json=body(id=second.id, name="first"),
                         headers=t.headers)
    assert "name" in f.field_errors(r)
    r = await client.put(f"/daemons/{second.id}", json=body(id=second.id, process_count=7),
                         headers=t.headers)
    assert r.status_code == 204
    await db.refresh(second)
    assert (second.name, second.process_count) == ("queue-worker", 7)
    assert first.id != second.id


async def test_name_is_unique_within_its_environment(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    taken = await f.create_daemon(db, t, name="queue-worker")
    r = await client.post(f"/environments/{t.environment.id}/daemons", json=body(),
                          headers=t.headers)
    assert f.field_errors(r) == {"name": ["The name has already been taken."]}
    other = await f.create_environment(db, t.project, t.user)
    r = await client.post(f"/environments/{other.id}/daemons", json=body(), headers=t.headers)
    assert r.status_code == 201, r.text
    # Keeping its own name is no clash.
    r = await client.put(f"/daemons/{taken.id}", json=body(id=taken.id), headers=t.headers)
    assert r.status_code == 204, r.text


@pytest.mark.parametrize("operation", ["deploy", "get-status", "restart", "start", "stop"])
async def test_operations(operation: str, client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    # A deploy links the servers of its environment it names; none may name another's.
    unlinked = await f.create_server(db, await f.create_tenant(db) if operation == "deploy" else t)
    daemon = await f.create_daemon(db, t)
    await f.link(db, "daemon", daemon.id, server)
    url = f"/daemons/{daemon.id}/{operation}"
    r = await client.post(url, json={"servers": [unlinked.id]}, headers=t.headers)
    assert {"servers", "servers.0"} & set(f.field_errors(r))
    r = await client.post(url, json={"trigger_comment": "x" * 256}, headers=t.headers)
    assert "trigger_comment" in f.field_errors(r)
    r = await client.post(url, json={"servers": [server.id], "trigger_comment": "go"},
                          headers=t.headers)
    action = await f.assert_action_started(
        client, r, t, resource_type="daemon", resource_id=daemon.id, operation=operation,
        server_ids=[server.id],
    )
    assert action["trigger_comment"] == "go"

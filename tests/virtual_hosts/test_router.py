from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests import resource_factories as f


def body(**overrides: Any) -> dict[str, Any]:
    return {"type": "name-based", "name": "App.Example.com", "root_directory": "/var/www"
            } | overrides


async def test_create_name_and_ip_based(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    application = await f.create_application(db, t)
    url = f"/environments/{t.environment.id}/virtual-hosts"
    r = await client.post(url, json=body(application_id=application.id, root_directory="public",
                                         application_listen_address="http://127.0.0.1:8080"),
                          headers=t.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == "app.example.com"
    assert created["type_human_readable"] == "Name-based"
    assert created["application"]["id"] == application.id
    assert created["ssl_certificate"] is None
    r = await client.post(url, json=body(type="ip-based", name="10.0.0.5:8080"),
                          headers=t.headers)
    assert r.status_code == 201, r.text
    r = await client.post(url, json=body(), headers=t.headers)
    assert "name" in f.field_errors(r)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "port-based"}, "type"),
        ({"name": "not a domain"}, "name"),
        ({"name": "localhost"}, "name"),
        ({"type": "ip-based", "name": "example.com"}, "name"),
        ({"type": "ip-based", "name": "10.0.0.1:99999"}, "name"),
        ({"name": "a" * 250 + ".com"}, "name"),
        ({"root_directory": "relative"}, "root_directory"),
        ({"application_listen_address": "ftp://127.0.0.1"}, "application_listen_address"),
        ({"application_listen_address": "http://127.0.0.1:70000"},
         "application_listen_address"),
        ({"application_id": 777777, "root_directory": "public"}, "application_id"),
    ],
)
async def test_field_rules(
    overrides: dict[str, Any], field: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/virtual-hosts",
                          json=body(**overrides), headers=t.headers)
    assert field in f.field_errors(r), r.json()


async def test_update(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    host = await f.create_virtual_host(db, t, name="old.example.com")
    r = await client.put(f"/virtual-hosts/{host.id}",
                         json={"id": host.id, "name": "new.example.com",
                               "application_listen_address": "unix:/run/app.sock"},
                         headers=t.headers)
    assert r.status_code == 204, r.text
    await db.refresh(host)
    assert (host.name, host.application_listen_address, host.root_directory) == (
        "new.example.com", "unix:/run/app.sock", "/var/www")
    r = await client.put(f"/virtual-hosts/{host.id}", json={"id": host.id, "name": "bad name"},
                         headers=t.headers)
    assert "name" in f.field_errors(r)


@pytest.mark.parametrize("operation", ["deploy", "get-status"])
async def test_operations(operation: str, client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    host = await f.create_virtual_host(db, t)
    server = await f.create_server(db, t)
    await f.link(db, "virtual-host", host.id, server)
    r = await client.post(f"/virtual-hosts/{host.id}/{operation}", headers=t.headers)
    await f.assert_action_started(
        client, r, t, resource_type="virtual-host", resource_id=host.id, operation=operation,
        server_ids=[server.id],
    )


async def test_update_checks_the_root_directory_against_the_kept_application(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    application = await f.create_application(db, t)
    host = await f.create_virtual_host(db, t, application_id=application.id,
                                       root_directory="public")
    url = f"/virtual-hosts/{host.id}"
    # `application_id` left out: the host keeps its application, so the root is relative.
    r = await client.put(url, json={"id": host.id, "name": host.name, "root_directory": "docs"},
                         headers=t.headers)
    assert r.status_code == 204, r.text
    await db.refresh(host)
    assert (host.application_id, host.root_directory) == (application.id, "docs")
    r = await client.put(url, json={"id": host.id, "name": host.name,
                                    "root_directory": "/var/www"}, headers=t.headers)
    assert "root_directory" in f.field_errors(r)
    # Unlinked from the application, the root must be absolute.
    r = await client.put(url, json={"id": host.id, "name": host.name, "application_id": None},
                         headers=t.headers)
    assert "root_directory" in f.field_errors(r)
    r = await client.put(url, json={"id": host.id, "name": host.name, "application_id": None,
                                    "root_directory": "/var/www"}, headers=t.headers)
    assert r.status_code == 204, r.text

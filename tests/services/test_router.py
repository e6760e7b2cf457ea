from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.models import Service
from tests import resource_factories as f


async def test_create(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    r = await client.post(
        f"/environments/{t.environment.id}/services",
        json={"type": "postgresql", "version": "16", "auto_start": False,
              "initial_state": "stopped",
              "linked_resources": [{"resource_type": "server", "resource_id": server.id}]},
        headers=t.headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["type_human_readable"] == "PostgreSQL"
    assert [s["id"] for s in created["servers"]] == [server.id]
    stored = await db.get(Service, created["id"])
    assert stored is not None
    assert (stored.auto_start, stored.initial_state) == (False, "stopped")
    r = await client.post(f"/environments/{t.environment.id}/services",
                          json={"type": "postgresql", "version": "16"}, headers=t.headers)
    assert "type" in f.field_errors(r)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "oracle", "version": "1"}, "type"),
        ({"type": "mysql", "version": "3.23"}, "version"),
        ({"type": "mysql", "version": ""}, "version"),
        ({"type": "mysql", "version": "8.0", "initial_state": "paused"}, "initial_state"),
        ({"version": "8.0"}, "type"),
    ],
)
async def test_field_rules(
    payload: dict[str, Any], field: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/services", json=payload,
                          headers=t.headers)
    assert field in f.field_errors(r), r.json()


@pytest.mark.parametrize("operation", ["deploy", "get-status", "reload", "restart", "start",
                                       "stop"])
async def test_operations(operation: str, client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    service = await f.create_service(db, t)
    r = await client.post(f"/services/{service.id}/{operation}", headers=t.headers)
    assert "servers" in f.field_errors(r)  # runs on no server yet
    server = await f.create_server(db, t)
    await f.link(db, "service", service.id, server)
    r = await client.post(f"/services/{service.id}/{operation}", headers=t.headers)
    await f.assert_action_started(
        client, r, t, resource_type="service", resource_id=service.id, operation=operation,
        server_ids=[server.id],
    )

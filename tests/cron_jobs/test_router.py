from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.cron_jobs.models import CronJob
from tests import resource_factories as f


def body(**overrides: Any) -> dict[str, Any]:
    return {"name": "cleanup", "command": "rm -rf /tmp/cache", "pattern": "0 0 * * *",
            "run_as_user": "root"} | overrides


async def test_create_and_read(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/cron-jobs",
                          json=body(pattern="0  0 * *  *"), headers=t.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["pattern"] == "0 0 * * *"
    assert created["pattern_human_readable"] == "Daily"
    stored = await db.get(CronJob, created["id"])
    assert stored is not None and stored.command == "rm -rf /tmp/cache"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"pattern": "every day"}, "pattern"),
        ({"pattern": "61 * * * *"}, "pattern"),
        ({"pattern": "* * * *"}, "pattern"),
        ({"pattern": "* * 32 * *"}, "pattern"),
        ({"command": "ls"}, "command"),
        ({"command": "x" * 256}, "command"),
        ({"name": ""}, "name"),
        ({"name": "x" * 61}, "name"),
        ({"run_as_user": "x" * 61}, "run_as_user"),
        ({"application_id": 0}, "application_id"),
        ({"application_id": 424242}, "application_id"),
    ],
)
async def test_field_rules(
    overrides: dict[str, Any], field: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/cron-jobs", json=body(**overrides),
                          headers=t.headers)
    assert field in f.field_errors(r), r.json()


async def test_update(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    cron_job = await f.create_cron_job(db, t)
    r = await client.put(f"/cron-jobs/{cron_job.id}",
                         json=body(id=cron_job.id, pattern="*/10 * * * *"), headers=t.headers)
    assert r.status_code == 204
    r = await client.get(f"/cron-jobs/{cron_job.id}", headers=t.headers)
    assert r.json()["pattern"] == "*/10 * * * *"
    assert r.json()["pattern_human_readable"] == "Custom"
    r = await client.put(f"/cron-jobs/{cron_job.id}", json=body(id=cron_job.id, pattern="x"),
                         headers=t.headers)
    assert "pattern" in f.field_errors(r)


async def test_deploy_starts_an_action(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    cron_job = await f.create_cron_job(db, t)
    r = await client.post(f"/cron-jobs/{cron_job.id}/deploy", json={}, headers=t.headers)
    assert "servers" in f.field_errors(r)  # runs on no server yet
    server = await f.create_server(db, t)
    await f.link(db, "cronjob", cron_job.id, server)
    r = await client.post(f"/cron-jobs/{cron_job.id}/deploy", json={}, headers=t.headers)
    await f.assert_action_started(
        client, r, t, resource_type="cronjob", resource_id=cron_job.id, operation="deploy",
        server_ids=[server.id],
    )

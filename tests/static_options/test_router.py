from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests import resource_factories as f

PATHS = [
    "/static/application-options",
    "/static/server-options",
    "/static/service-options",
    "/static/cronjob-options",
    "/static/network-rule-options",
    "/static/virtual-host-options",
    "/static/environment-options",
    "/static/resource-types",
    "/static/user-profile-options",
    "/static/billing-plans-options",
]


@pytest.mark.parametrize("path", PATHS)
async def test_options_need_a_caller_and_match_the_reference(
    path: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    assert (await client.get(path)).status_code == 401
    t = await f.create_tenant(db)
    r = await client.get(path, headers=t.headers)
    assert r.status_code == 200, r.text


async def test_options_agree_with_the_validators(client: httpx.AsyncClient, db: AsyncSession
                                                 ) -> None:
    t = await f.create_tenant(db)
    frequencies = (await client.get("/static/cronjob-options", headers=t.headers)).json()
    # Every offered frequency is accepted by cron job creation.
    for frequency in frequencies["frequencies"]:
        r = await client.post(
            f"/environments/{t.environment.id}/cron-jobs",
            json={"name": frequency["human_readable"], "command": "echo hi",
                  "pattern": frequency["value"], "run_as_user": "root"},
            headers=t.headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["pattern_human_readable"] == frequency["human_readable"]
    services = (await client.get("/static/service-options", headers=t.headers)).json()
    redis = next(s for s in services["types"] if s["value"] == "redis")
    version = redis["supported_versions"][0]["version"]
    r = await client.post(f"/environments/{t.environment.id}/services",
                          json={"type": "redis", "version": version}, headers=t.headers)
    assert r.status_code == 201


async def test_resource_types_paginate(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    r = await client.get("/static/resource-types", params={"per_page": 5}, headers=t.headers)
    assert len(r.json()) == 5
    assert 'rel="next"' in r.headers["Link"]

"""Pipelines belong to the engine's package: tests register a lookup of their own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.hooks.pipelines import PipelineRef, register_pipeline_lookup
from tests.factories_credentials import Tenant

PIPELINES: dict[int, PipelineRef] = {}


async def lookup_pipeline(session: AsyncSession, pipeline_id: int) -> PipelineRef | None:
    return PIPELINES.get(pipeline_id)


@pytest.fixture(autouse=True)
def pipelines() -> Iterator[dict[int, PipelineRef]]:
    register_pipeline_lookup(lookup_pipeline)
    yield PIPELINES
    PIPELINES.clear()
    register_pipeline_lookup(None)


def pipeline_for(tenant: Tenant, pipeline_id: int) -> int:
    PIPELINES[pipeline_id] = PipelineRef(
        id=pipeline_id, environment_id=tenant.environment.id, project_id=tenant.project.id,
        resource_type="application", resource_id=5, action_type="deploy",
    )
    return pipeline_id


async def create_hook(
    client: httpx.AsyncClient, tenant: Tenant, pipeline_id: int, kind: str = "incoming",
    **body: Any,
) -> dict[str, Any]:
    r = await client.post(
        f"/pipelines/{pipeline_id}/hooks/{kind}", headers=tenant.headers,
        json={"name": "deploy on push", **body},
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data



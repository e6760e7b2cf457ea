"""Hooks trigger real pipelines of the engine: tests create them as rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Pipeline
from app.hooks.pipelines import register_pipeline_lookup
from app.wiring import _pipeline_lookup
from tests.factories_credentials import Tenant


@pytest.fixture(autouse=True)
def pipelines() -> Iterator[None]:
    # Other tests may have swapped the lookup; hooks find the engine's pipelines.
    register_pipeline_lookup(_pipeline_lookup)
    yield


async def pipeline_for(db: AsyncSession, tenant: Tenant, resource_id: int = 5) -> int:
    """A deploy pipeline of an application of the tenant's environment."""
    pipeline = Pipeline(
        name="Deploy application", resource_type="application", resource_id=resource_id,
        operation="deploy", environment_id=tenant.environment.id,
        project_id=tenant.project.id, organization_id=tenant.organization.id,
        created_by=tenant.user.id,
    )
    db.add(pipeline)
    await db.commit()
    return pipeline.id


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



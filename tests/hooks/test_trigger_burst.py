"""A CI system fires many hooks at once: every trigger is answered, none with a 500.

On SQLite the embedded runner commits between a trigger's reads and its writes; a
transaction that only read by then cannot become a writer, which once surfaced as 500s."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Pipeline
from tests import resource_factories as rf
from tests.hooks.conftest import create_hook


async def test_a_burst_of_triggers_is_answered_without_server_errors(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await rf.create_tenant(db)
    server = await rf.create_server(db, t)
    service = await rf.create_service(db, t)
    await rf.link(db, "service", service.id, server)
    pipeline = Pipeline(
        name="Restart service", resource_type="service", resource_id=service.id,
        operation="restart", environment_id=t.environment.id, project_id=t.project.id,
        created_by=t.user.id,
    )
    db.add(pipeline)
    await db.commit()
    hook = await create_hook(client, t, pipeline.id)

    answers = await asyncio.gather(
        *(client.post(f"/hooks/{hook['id']}/trigger", json={}) for _ in range(40))
    )
    errors = [r.text for r in answers if r.status_code >= 500]
    assert errors == [], errors[:2]
    assert all(r.status_code == 200 for r in answers), {r.status_code for r in answers}
    r = await client.get(f"/hooks/incoming/{hook['id']}/requests", headers=t.headers,
                         params={"per_page": 100})
    assert len(r.json()) == 40

"""An incoming hook runs an operation on behalf of whoever holds its URL: it may carry no
more than its creator holds, when it is made and every time it fires."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Action, Pipeline
from app.hooks.models import Hook
from tests import resource_factories as rf
from tests.factories import (
    auth,
    create_project_token,
    create_role,
    create_team,
    link_team,
    user_with_token,
)

HOOK_RIGHTS = ["service:read", "pipeline:read", "hook:read", "hook:create"]


async def _stop_pipeline(db: AsyncSession, t: rf.Tenant, service_id: int) -> int:
    pipeline = Pipeline(
        name="Stop service", resource_type="service", resource_id=service_id,
        operation="stop", environment_id=t.environment.id, project_id=t.project.id,
        organization_id=t.project.organization_id, created_by=t.user.id,
    )
    db.add(pipeline)
    await db.commit()
    return pipeline.id


async def _count(db: AsyncSession, model: type[Hook] | type[Action]) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_hook_cannot_run_an_operation_its_creator_lacks(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await rf.create_tenant(db)
    service = await rf.create_service(db, t)
    pipeline_id = await _stop_pipeline(db, t, service.id)
    _, token = await create_project_token(
        db, t.project, await create_role(db, permissions=HOOK_RIGHTS), t.user
    )
    r = await client.post(
        f"/pipelines/{pipeline_id}/hooks/incoming", headers=auth(token),
        json={"name": "stop it"},
    )
    assert r.status_code == 403, r.text
    assert "stop" in r.json()["message"]
    assert await _count(db, Hook) == 0


async def test_a_hook_stops_working_when_its_creator_loses_the_right(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await rf.create_tenant(db)
    service = await rf.create_service(db, t)
    pipeline_id = await _stop_pipeline(db, t, service.id)
    member, member_token = await user_with_token(db)
    team = await create_team(db, project=t.project, members=(member,))
    role = await create_role(db, permissions=[*HOOK_RIGHTS, "service:stop"])
    await link_team(db, team, role, environment=t.environment)
    r = await client.post(
        f"/pipelines/{pipeline_id}/hooks/incoming", headers=auth(member_token),
        json={"name": "stop it"},
    )
    assert r.status_code == 201, r.text
    hook_id = r.json()["id"]

    r = await client.delete(f"/teams/{team.id}/members/{member.id}", headers=t.headers)
    assert r.status_code == 204, r.text
    actions_before = await _count(db, Action)
    r = await client.post(f"/hooks/{hook_id}/trigger", json={})
    assert r.status_code == 403, r.text
    assert await _count(db, Action) == actions_before
    # The refusal is on record for whoever investigates the hook.
    r = await client.get(f"/hooks/incoming/{hook_id}/requests", headers=t.headers)
    [request] = r.json()
    assert request["response_status_code"] == 403

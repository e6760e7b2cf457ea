"""Concurrency slots hold under concurrent claims from separate connections (workers)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from app.actions.models import Action, ActionTarget
from app.core.database import Database
from workers.engine.slots import try_claim


async def test_concurrent_claims_never_exceed_the_limit(app: Any, world: Any) -> None:
    database: Database = app.state.database
    async with database.transaction() as session:
        action = Action(type="deploy", resource_type="application", resource_id=1,
                        project_id=world.project.id, environment_id=world.environment_id)
        session.add(action)
        await session.flush()
        targets = [
            ActionTarget(action_id=action.id, resource_id=900, server_id=900,
                         max_parallel_actions=2)
            for _ in range(12)
        ]
        session.add_all(targets)
        await session.flush()
        ids = [t.id for t in targets]

    # A separate engine per claimant, as separate worker processes would have.
    claimants = [Database(database.settings) for _ in range(4)]

    async def claim(db: Database, target_id: int) -> bool:
        async with db.transaction() as session:
            return await try_claim(session, target_id, 900, 2)

    try:
        results = await asyncio.gather(
            *(claim(claimants[i % 4], target_id) for i, target_id in enumerate(ids))
        )
    finally:
        for db in claimants:
            await db.dispose()
    assert sum(results) == 2
    async with database.sessionmaker() as session:
        running = (
            await session.scalars(
                select(ActionTarget.id).where(ActionTarget.status == "in-progress")
            )
        ).all()
    assert len(running) == 2

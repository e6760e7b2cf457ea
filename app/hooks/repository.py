from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.pagination import PageParams, paginate
from app.hooks.models import Hook, HookRequest


class HookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, hook_id: str) -> Hook | None:
        return await self.session.scalar(
            select(Hook).where(Hook.id == hook_id).options(selectinload(Hook.created_by_user))
        )

    async def page_for_pipeline(self, pipeline_id: int, page: PageParams) -> Sequence[Hook]:
        stmt = (
            select(Hook)
            .where(Hook.pipeline_id == pipeline_id)
            .order_by(Hook.created_at, Hook.id)
        )
        return await paginate(self.session, stmt, page)

    async def application_environment(self, application_id: int) -> int | None:
        from app.applications.models import Application

        environment_id: int | None = await self.session.scalar(
            select(Application.environment_id).where(Application.id == application_id)
        )
        return environment_id

    async def page_for_resource(
        self, resource_type: str, resource_id: int, page: PageParams
    ) -> Sequence[Hook]:
        stmt = (
            select(Hook)
            .where(Hook.resource_type == resource_type, Hook.resource_id == resource_id)
            .order_by(Hook.created_at, Hook.id)
        )
        return await paginate(self.session, stmt, page)

    async def outgoing_for_pipeline(self, pipeline_id: int) -> Sequence[Hook]:
        stmt = select(Hook).where(
            Hook.pipeline_id == pipeline_id, Hook.type == "out", Hook.active.is_(True)
        )
        return (await self.session.scalars(stmt)).all()

    async def page_requests(self, hook_id: str, page: PageParams) -> Sequence[HookRequest]:
        stmt = (
            select(HookRequest)
            .where(HookRequest.hook_id == hook_id)
            .order_by(HookRequest.created_at.desc(), HookRequest.id)
        )
        return await paginate(self.session, stmt, page)

    async def get_request(self, request_id: str) -> HookRequest | None:
        return await self.session.scalar(
            select(HookRequest)
            .where(HookRequest.id == request_id)
            .options(selectinload(HookRequest.hook))
        )

    async def add(self, row: Hook | HookRequest) -> None:
        self.session.add(row)
        await self.session.flush()

    async def delete(self, hook: Hook) -> None:
        await self.session.delete(hook)
        await self.session.flush()

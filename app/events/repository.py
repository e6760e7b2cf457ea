from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, paginate
from app.events.models import ResourceEvent


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page_for(
        self, resource_type: str, resource_id: int, page: PageParams
    ) -> Sequence[ResourceEvent]:
        stmt = (
            select(ResourceEvent)
            .where(
                ResourceEvent.resource_type == resource_type,
                ResourceEvent.resource_id == resource_id,
            )
            .order_by(ResourceEvent.id.desc())
        )
        return await paginate(self.session, stmt, page)

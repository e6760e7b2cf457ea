from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.core.pagination import PageParams
from app.events.audit import record_event
from app.events.models import ResourceEvent
from app.events.repository import EventRepository
from app.resource_links.registry import ResourceRef, resource_type
from app.users.billing import unlimited_subscription
from app.users.models import User
from app.users.schemas import Subscription


class EventService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.events = EventRepository(session)

    async def list_for(
        self, principal: Principal, type_name: str, resource_id: int, page: PageParams
    ) -> Sequence[ResourceEvent]:
        await resource_type(type_name).authorize(self.session, principal, resource_id, "read")
        return await self.events.page_for(type_name, resource_id, page)

    async def process(
        self, principal: Principal, ip: str, type_name: str, resource_id: int
    ) -> tuple[ResourceRef, Subscription]:
        """Record that a client asked the server to process events of a resource.

        The reference ties this operation to billing; a self-hosted instance has one
        unlimited subscription per user, so the answer carries that.
        """
        ref = await resource_type(type_name).authorize(
            self.session, principal, resource_id, "update"
        )
        record_event(
            self.session, principal, ip, type_name, resource_id, "processed",
            message="Event processing requested", environment_id=ref.environment_id,
        )
        await self.session.flush()
        user = await self.session.get(User, principal.user_id)
        assert user is not None
        return ref, unlimited_subscription(user)

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, paginate
from app.resource_links.models import ResourceLink


class ResourceLinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def _of(
        resource_type: str, resource_id: int, link_type: str | None, linked_type: str | None
    ) -> Select[ResourceLink]:
        as_parent = and_(
            ResourceLink.parent_type == resource_type, ResourceLink.parent_id == resource_id
        )
        as_child = and_(
            ResourceLink.child_type == resource_type, ResourceLink.child_id == resource_id
        )
        # link_type names what the *linked* resource is: "child" lists our children.
        if link_type == "child":
            where = as_parent
            if linked_type:
                where = and_(where, ResourceLink.child_type == linked_type)
        elif link_type == "parent":
            where = as_child
            if linked_type:
                where = and_(where, ResourceLink.parent_type == linked_type)
        else:
            where = or_(as_parent, as_child)
        return select(ResourceLink).where(where).order_by(ResourceLink.id)

    async def page(
        self,
        resource_type: str,
        resource_id: int,
        page: PageParams,
        *,
        link_type: str | None = None,
        linked_type: str | None = None,
    ) -> Sequence[ResourceLink]:
        stmt = self._of(resource_type, resource_id, link_type, linked_type)
        return await paginate(self.session, stmt, page)

    async def find(
        self, parent_type: str, parent_id: int, child_type: str, child_id: int
    ) -> ResourceLink | None:
        return await self.session.scalar(
            select(ResourceLink).where(
                ResourceLink.parent_type == parent_type,
                ResourceLink.parent_id == parent_id,
                ResourceLink.child_type == child_type,
                ResourceLink.child_id == child_id,
            )
        )

    async def add(self, link: ResourceLink) -> None:
        self.session.add(link)
        await self.session.flush()

    async def remove(self, link: ResourceLink) -> None:
        await self.session.delete(link)
        await self.session.flush()

    async def delete_for(self, resource_type: str, resource_id: int) -> None:
        await self.session.execute(
            delete(ResourceLink).where(
                or_(
                    and_(ResourceLink.parent_type == resource_type,
                         ResourceLink.parent_id == resource_id),
                    and_(ResourceLink.child_type == resource_type,
                         ResourceLink.child_id == resource_id),
                )
            )
        )

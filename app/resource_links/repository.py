from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, false, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams
from app.resource_links.models import ResourceLink
from app.resources_common.links import SERVER_LINKED_TYPES
from app.resources_common.models import ResourceServer


@dataclass(frozen=True)
class LinkRow:
    """One link as listings show it, from `resource_links` or `resource_servers` (a server
    is the parent of what runs on it)."""

    parent_type: str
    parent_id: int
    child_type: str
    child_id: int
    can_be_unlinked: bool
    created_at: datetime
    updated_at: datetime


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

    @staticmethod
    def _placements(
        resource_type: str, resource_id: int, link_type: str | None, linked_type: str | None
    ) -> ColumnElement[bool]:
        """Which `resource_servers` rows the listing of one resource includes."""
        if resource_type == "server":
            where: ColumnElement[bool] = ResourceServer.server_id == resource_id
            if link_type == "parent":
                return false()
            if linked_type:
                where = and_(where, ResourceServer.resource_type == linked_type)
            return where
        if resource_type not in SERVER_LINKED_TYPES or link_type == "child":
            return false()
        if linked_type and linked_type != "server":
            return false()
        return and_(
            ResourceServer.resource_type == resource_type,
            ResourceServer.resource_id == resource_id,
        )

    async def page_all(
        self,
        resource_type: str,
        resource_id: int,
        page: PageParams,
        *,
        link_type: str | None = None,
        linked_type: str | None = None,
    ) -> list[LinkRow]:
        """Links and server placements of one resource, links first (by id), then
        placements (by server, then resource)."""
        links = self._of(resource_type, resource_id, link_type, linked_type)
        links_where = links.whereclause
        assert links_where is not None
        rows = select(
            ResourceLink.parent_type.label("parent_type"),
            ResourceLink.parent_id.label("parent_id"),
            ResourceLink.child_type.label("child_type"),
            ResourceLink.child_id.label("child_id"),
            ResourceLink.can_be_unlinked.label("can_be_unlinked"),
            ResourceLink.created_at.label("created_at"),
            ResourceLink.updated_at.label("updated_at"),
            literal(0).label("kind"),
            ResourceLink.id.label("key"),
        ).where(links_where)
        placements = select(
            literal("server").label("parent_type"),
            ResourceServer.server_id.label("parent_id"),
            ResourceServer.resource_type.label("child_type"),
            ResourceServer.resource_id.label("child_id"),
            true().label("can_be_unlinked"),
            ResourceServer.created_at.label("created_at"),
            ResourceServer.created_at.label("updated_at"),
            literal(1).label("kind"),
            literal(0).label("key"),
        ).where(self._placements(resource_type, resource_id, link_type, linked_type))
        union = rows.union_all(placements).subquery()
        total = int(await self.session.scalar(select(func.count()).select_from(union)) or 0)
        result = await self.session.execute(
            select(union)
            .order_by(union.c.kind, union.c.key, union.c.parent_id, union.c.child_type,
                      union.c.child_id)
            .limit(page.per_page)
            .offset(page.offset)
        )
        page.write_link_header(total)
        found: list[Any] = list(result.all())
        return [
            LinkRow(r.parent_type, r.parent_id, r.child_type, r.child_id,
                    bool(r.can_be_unlinked), r.created_at, r.updated_at)
            for r in found
        ]

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

"""Link and unlink any two registered resources; list what a resource is linked to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import Forbidden, NotFound, ValidationFailed
from app.core.pagination import PageParams
from app.events.audit import record_event
from app.resource_links.models import ResourceLink
from app.resource_links.registry import ResourceRef, link_allowed, resource_type
from app.resource_links.repository import ResourceLinkRepository
from app.resource_links.schemas import LinkedResourceData, LinkType, ResourceLinkRelation


async def add_managed_link(
    session: AsyncSession, parent: ResourceRef, child: ResourceRef
) -> ResourceLink:
    """A link the server keeps itself (e.g. a subnet under its network): not unlinkable."""
    link = ResourceLink(
        parent_type=parent.resource_type,
        parent_id=parent.id,
        child_type=child.resource_type,
        child_id=child.id,
        can_be_unlinked=False,
        environment_id=parent.environment_id,
    )
    await ResourceLinkRepository(session).add(link)
    return link


async def forget_resource(session: AsyncSession, type_name: str, resource_id: int) -> None:
    """Call from a resource's delete: its links go with it."""
    await ResourceLinkRepository(session).delete_for(type_name, resource_id)


class ResourceLinkService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.links = ResourceLinkRepository(session)

    async def list_links(
        self,
        principal: Principal,
        type_name: str,
        resource_id: int,
        page: PageParams,
        *,
        link_type: str | None = None,
        linked_type: str | None = None,
    ) -> list[ResourceLinkRelation]:
        await resource_type(type_name).authorize(self.session, principal, resource_id, "read")
        rows = await self.links.page(
            type_name, resource_id, page, link_type=link_type, linked_type=linked_type
        )
        return await self._present(type_name, resource_id, rows)

    async def _present(
        self, type_name: str, resource_id: int, rows: Sequence[ResourceLink]
    ) -> list[ResourceLinkRelation]:
        wanted: dict[str, set[int]] = defaultdict(set)
        other: list[tuple[ResourceLink, LinkType, str, int]] = []
        for link in rows:
            if link.parent_type == type_name and link.parent_id == resource_id:
                other.append((link, "child", link.child_type, link.child_id))
            else:
                other.append((link, "parent", link.parent_type, link.parent_id))
            wanted[other[-1][2]].add(other[-1][3])
        described: dict[tuple[str, int], ResourceRef] = {}
        for name, ids in wanted.items():
            for rid, ref in (await resource_type(name).describe(self.session, sorted(ids))).items():
                described[(name, rid)] = ref
        result = []
        for link, kind, name, rid in other:
            found = described.get((name, rid))
            if found is None:
                continue  # removed without its links: nothing to show
            result.append(
                ResourceLinkRelation(
                    link_type=kind,
                    resource_type=name,
                    resource_id=rid,
                    resource_type_human_readable=resource_type(name).human_readable,
                    can_be_unlinked=link.can_be_unlinked,
                    linked_resource_data=LinkedResourceData(
                        id=found.id,
                        name=found.name,
                        environment_id=found.environment_id,
                        environment_name=found.environment_name,
                        project_id=found.project_id,
                        project_name=found.project_name,
                        created_at=found.created_at,
                        updated_at=found.updated_at,
                    ),
                    created_at=link.created_at,
                    updated_at=link.updated_at,
                )
            )
        return result

    async def _pair(
        self, principal: Principal, parent_type: str, parent_id: int, child_type: str,
        child_id: int,
    ) -> tuple[ResourceRef, ResourceRef]:
        parent = await resource_type(parent_type).authorize(
            self.session, principal, parent_id, "update"
        )
        child = await resource_type(child_type).authorize(
            self.session, principal, child_id, "read"
        )
        return parent, child

    async def link(
        self, principal: Principal, ip: str, parent_type: str, parent_id: int,
        child_type: str, child_id: int,
    ) -> None:
        parent, child = await self._pair(principal, parent_type, parent_id, child_type, child_id)
        if not link_allowed(parent_type, child_type):
            raise ValidationFailed.field(
                "child_type", f"A {child_type} cannot be linked to a {parent_type}."
            )
        if (parent_type, parent_id) == (child_type, child_id):
            raise ValidationFailed.field("child_id", "A resource cannot be linked to itself.")
        if (
            parent.environment_id is not None
            and child.environment_id is not None
            and parent.environment_id != child.environment_id
        ):
            raise ValidationFailed.field(
                "child_id", "Both resources must belong to the same environment."
            )
        if await self.links.find(parent_type, parent_id, child_type, child_id) is not None:
            raise ValidationFailed.field("child_id", "The resources are already linked.")
        await self.links.add(
            ResourceLink(
                parent_type=parent_type, parent_id=parent_id, child_type=child_type,
                child_id=child_id, can_be_unlinked=True, environment_id=parent.environment_id,
            )
        )
        self._record(principal, ip, parent, child, "linked")

    async def unlink(
        self, principal: Principal, ip: str, parent_type: str, parent_id: int,
        child_type: str, child_id: int,
    ) -> None:
        parent, child = await self._pair(principal, parent_type, parent_id, child_type, child_id)
        link = await self.links.find(parent_type, parent_id, child_type, child_id)
        if link is None:
            raise NotFound("Resource link not found.")
        if not link.can_be_unlinked:
            raise Forbidden("This link is kept by the server and cannot be removed.")
        await self.links.remove(link)
        self._record(principal, ip, parent, child, "unlinked")

    def _record(
        self, principal: Principal, ip: str, parent: ResourceRef, child: ResourceRef, action: str
    ) -> None:
        for this, that in ((parent, child), (child, parent)):
            record_event(
                self.session, principal, ip, this.resource_type, this.id, action,
                message=f"{action} {that.resource_type} {that.id}",
                environment_id=this.environment_id,
            )

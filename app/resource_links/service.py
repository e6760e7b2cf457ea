"""Link and unlink any two registered resources; list what a resource is linked to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.core.errors import Forbidden, NotFound, ValidationFailed
from app.core.pagination import PageParams
from app.events.audit import record_event
from app.resource_links.models import ResourceLink
from app.resource_links.registry import ResourceRef, link_allowed, resource_type
from app.resource_links.repository import LinkRow, ResourceLinkRepository
from app.resource_links.schemas import LinkedResourceData, LinkType, ResourceLinkRelation
from app.resources_common import links as server_links


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


_NOT_LINKABLE_HINT = {
    "ssl-certificate": " An SSL certificate runs on the servers of its virtual host.",
}


def _placement(
    parent_type: str, parent_id: int, child_type: str, child_id: int
) -> tuple[str, int, int] | None:
    """(resource type, resource id, server id) when the pair places a resource on a server
    (stored with the resource's deploy targets, not as a generic link), in either order."""
    if parent_type == "server" and child_type in server_links.SERVER_LINKED_TYPES:
        return child_type, child_id, parent_id
    if child_type == "server" and parent_type in server_links.SERVER_LINKED_TYPES:
        return parent_type, parent_id, child_id
    return None


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
        rows = await self.links.page_all(
            type_name, resource_id, page, link_type=link_type, linked_type=linked_type
        )
        return await self._present(type_name, resource_id, rows)

    async def _present(
        self, type_name: str, resource_id: int, rows: Sequence[LinkRow]
    ) -> list[ResourceLinkRelation]:
        wanted: dict[str, set[int]] = defaultdict(set)
        other: list[tuple[LinkRow, LinkType, str, int]] = []
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
        """Changing a link changes the parent; placing a resource on a server changes the
        resource (`application:update` links a server to an application), whichever of the
        two the path names first."""
        parent_operation, child_operation = "update", "read"
        if _placement(parent_type, parent_id, child_type, child_id) is not None and (
            parent_type == "server"
        ):
            parent_operation, child_operation = "read", "update"
        parent = await resource_type(parent_type).authorize(
            self.session, principal, parent_id, parent_operation
        )
        child = await resource_type(child_type).authorize(
            self.session, principal, child_id, child_operation
        )
        return parent, child

    async def link(
        self, principal: Principal, ip: str, parent_type: str, parent_id: int,
        child_type: str, child_id: int,
    ) -> None:
        parent, child = await self._pair(principal, parent_type, parent_id, child_type, child_id)
        placement = _placement(parent_type, parent_id, child_type, child_id)
        if placement is None and not link_allowed(parent_type, child_type):
            raise ValidationFailed.field(
                "child_type", f"A {child_type} cannot be linked to a {parent_type}."
                + _NOT_LINKABLE_HINT.get(
                    child_type if parent_type == "server" else parent_type, ""
                )
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
        if placement is not None:
            await self._place(*placement)
        elif await self.links.find(parent_type, parent_id, child_type, child_id) is not None:
            raise ValidationFailed.field("child_id", "The resources are already linked.")
        else:
            await self._add_link(parent, child)
        self._record(principal, ip, parent, child, "linked")

    async def _place(self, type_name: str, resource_id: int, server_id: int) -> None:
        """The resource runs on the server from now on: its deploys target it."""
        if server_id in await server_links.servers_for(self.session, type_name, resource_id):
            raise ValidationFailed.field("child_id", "The resources are already linked.")
        await server_links.link_servers(self.session, type_name, resource_id, [server_id])

    async def _add_link(self, parent: ResourceRef, child: ResourceRef) -> None:
        parent_type, parent_id = parent.resource_type, parent.id
        child_type, child_id = child.resource_type, child.id
        await self.links.add(
            ResourceLink(
                parent_type=parent_type, parent_id=parent_id, child_type=child_type,
                child_id=child_id, can_be_unlinked=True, environment_id=parent.environment_id,
            )
        )

    async def unlink(
        self, principal: Principal, ip: str, parent_type: str, parent_id: int,
        child_type: str, child_id: int,
    ) -> None:
        parent, child = await self._pair(principal, parent_type, parent_id, child_type, child_id)
        placement = _placement(parent_type, parent_id, child_type, child_id)
        if placement is not None:
            if not await server_links.unlink_server(self.session, *placement):
                raise NotFound("Resource link not found.")
            self._record(principal, ip, parent, child, "unlinked")
            return
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

"""Organizations: created by a user who owns them, addressed by id or URL slug."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.catalogue import ALL_PERMISSIONS
from app.access.permissions import Authorizer
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import PageParams
from app.core.schemas import ResourceSummaryItem
from app.environments.summary import summary_item
from app.organizations.models import Organization
from app.organizations.repository import OrganizationRepository
from app.organizations.schemas import OrganizationCreate, OrganizationUpdate
from app.users.repository import RESERVED_SLUGS


class OrganizationService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.organizations = OrganizationRepository(session)
        self.authorizer = Authorizer(session)

    async def list_readable(self, principal: Principal, page: PageParams) -> Sequence[Organization]:
        return await self.organizations.list_readable(self.authorizer, principal, page)

    async def _free_slug(self, wanted: str | None, name: str) -> str:
        if wanted is not None:
            if wanted in RESERVED_SLUGS or await self.organizations.slug_taken(wanted):
                raise ValidationFailed.field("url_slug", "The url slug has already been taken.")
            return wanted
        # The slug comes from the name: a name whose slug another organization (or a
        # user) holds is "already taken"; a reserved or too-short one gets a suffix.
        base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:30].strip("-")
        if len(base) >= 2 and base not in RESERVED_SLUGS:
            if await self.organizations.slug_taken(base):
                raise ValidationFailed.field(
                    "name", "The name has already been taken: choose a unique name."
                )
            return base
        base = (base or "org")[:24]
        candidate, n = f"{base}-2", 2
        while candidate in RESERVED_SLUGS or await self.organizations.slug_taken(candidate):
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    async def create(self, principal: Principal, data: OrganizationCreate) -> Organization:
        organization = Organization(
            name=data.name,
            url_slug=await self._free_slug(data.url_slug, data.name),
            owner_id=principal.user_id,
        )
        await self.organizations.add(organization)
        organization.remember_permissions(ALL_PERMISSIONS)
        return await self.organizations.load_owner(organization)

    async def get(self, principal: Principal, key: str) -> Organization:
        organization = await self.authorizer.organization(principal, key, "organization:read")
        return await self.organizations.load_owner(organization)

    async def summary(self, organization: Organization) -> list[ResourceSummaryItem]:
        projects, environments, teams = await self.organizations.counts(organization.id)
        return [
            summary_item("project", "projects", "Project", "Projects", projects),
            summary_item(
                "environment", "environments", "Environment", "Environments", environments
            ),
            summary_item("team", "teams", "Team", "Teams", teams),
        ]

    async def update(self, principal: Principal, key: str, data: OrganizationUpdate) -> None:
        organization = await self.authorizer.organization(principal, key, "organization:update")
        if str(data.id) not in (str(organization.id), organization.url_slug):
            raise ValidationFailed.field("id", "The id must match the organization in the URL.")
        if data.url_slug != organization.url_slug and (
            data.url_slug in RESERVED_SLUGS
            or await self.organizations.slug_taken(data.url_slug, except_id=organization.id)
        ):
            raise ValidationFailed.field("url_slug", "The url slug has already been taken.")
        organization.name = data.name
        organization.url_slug = data.url_slug
        await self.session.flush()

    async def delete(self, principal: Principal, key: str) -> None:
        organization = await self.authorizer.organization(principal, key, "organization:delete")
        projects, _, _ = await self.organizations.counts(organization.id)
        if projects:
            raise Conflict(f"The organization still has {projects} project(s); delete them first.")
        # Teams, their links and the organization's custom roles go with it (FK cascade).
        await self.organizations.delete(organization)

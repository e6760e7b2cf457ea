"""The authorization layer: every endpoint asks here whether a caller may touch a resource.

A resource the caller cannot see answers 404 (existence is never revealed); one the caller
can see but not change answers 403. Project API tokens see only their own project and only
what their role grants.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import Forbidden, NotFound
from app.organizations.models import Organization
from app.projects.models import Project

# Operations that only a person may perform, whatever a token's role says: a token that
# could mint tokens could escalate its own rights.
USER_ONLY_PERMISSIONS = frozenset({"api_token:create", "api_token:read", "api_token:update",
                                   "api_token:delete"})


class Authorizer:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _project_owner_ids(self, project: Project) -> set[int]:
        owners = {project.user_id}
        if project.organization_id is not None:
            org_owner = await self.session.scalar(
                select(Organization.owner_id).where(Organization.id == project.organization_id)
            )
            if org_owner is not None:
                owners.add(org_owner)
        return owners

    async def can_see_project(self, principal: Principal, project: Project) -> bool:
        if principal.is_project_token:
            return principal.project_id == project.id
        return principal.user_id in await self._project_owner_ids(project)

    async def allowed(self, principal: Principal, project: Project, permission: str) -> bool:
        if not await self.can_see_project(principal, project):
            return False
        if principal.is_project_token:
            if permission in USER_ONLY_PERMISSIONS:
                return False
            return permission in (principal.permissions or frozenset())
        return True

    async def project(self, principal: Principal, project_id: int, permission: str) -> Project:
        """The project, if the caller may see it (else 404) and holds `permission` (else 403)."""
        project = await self.session.get(Project, project_id)
        if project is None or not await self.can_see_project(principal, project):
            raise NotFound("Project not found.")
        if not await self.allowed(principal, project, permission):
            raise Forbidden(f"You are not allowed to {permission.replace(':', ' ')} here.")
        return project

"""Authorization of environment resources, through the tenancy authorizer.

Another tenant's resource answers 404 (its existence is never revealed); a resource the
caller sees but may not change answers 403.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import NotFound
from app.core.permissions import Authorizer
from app.environments.models import Environment
from app.resources_common.models import EnvironmentResource


class EnvironmentAccess:
    def __init__(self, session: AsyncSession) -> None:
        self.authorizer = Authorizer(session)

    async def environment(
        self, principal: Principal, environment_id: int, permission: str
    ) -> Environment:
        return await self.authorizer.environment(principal, environment_id, permission)

    async def resource(
        self, principal: Principal, resource: EnvironmentResource | None, permission: str,
        label: str,
    ) -> None:
        """Raise NotFound naming `label` unless the caller holds `permission` on it."""
        if resource is None:
            raise NotFound(f"{label} not found.")
        await self.authorizer.environment(
            principal, resource.environment_id, permission, not_found=f"{label} not found."
        )

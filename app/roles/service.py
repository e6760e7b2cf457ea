"""Roles: named sets of permissions drawn from the one catalogue in app.access.catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.catalogue import CATALOGUE, required_permissions, unknown_permissions
from app.access.permissions import Authorizer
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import PageParams
from app.roles.models import Role
from app.roles.repository import RoleRepository
from app.roles.schemas import PermissionRelation, RoleCreate, RoleUpdate, StaticPermission


def permission_catalogue() -> list[PermissionRelation]:
    return [
        PermissionRelation(
            resource_type=resource.resource_type,
            human_readable=resource.human_readable,
            permissions=[
                StaticPermission(
                    name=op.name,
                    human_readable=op.human_readable,
                    hint=op.hint,
                    required_permissions=required_permissions(
                        f"{resource.resource_type}:{op.name}"
                    ),
                )
                for op in resource.operations
            ],
        )
        for resource in CATALOGUE
    ]


def _valid_permissions(permissions: list[str]) -> list[str]:
    unknown = unknown_permissions(permissions)
    if unknown:
        raise ValidationFailed(
            "The given data was invalid.",
            {"permissions": [f"Unknown permission: {p}." for p in unknown]},
        )
    chosen = set(permissions)
    missing = sorted({r for p in chosen for r in required_permissions(p)} - chosen)
    if missing:
        raise ValidationFailed(
            "The given data was invalid.",
            {"permissions": [f"The permission {p} is required by others chosen." for p in missing]},
        )
    return sorted(chosen)


class RoleService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.roles = RoleRepository(session)
        self.authorizer = Authorizer(session)

    async def list_for_organization(
        self, principal: Principal, organization_key: str, page: PageParams
    ) -> Sequence[Role]:
        organization = await self.authorizer.organization(principal, organization_key, "role:read")
        return await self.roles.list_for_organization(organization.id, page)

    async def list_for_project(
        self, principal: Principal, project_id: int, page: PageParams
    ) -> Sequence[Role]:
        project = await self.authorizer.project(principal, project_id, "role:read")
        return await self.roles.list_for_project(project.id, project.organization_id, page)

    async def create_in_organization(
        self, principal: Principal, organization_key: str, data: RoleCreate
    ) -> Role:
        organization = await self.authorizer.organization(
            principal, organization_key, "role:create"
        )
        return await self._add(
            principal, data, organization.current_user_permissions,
            organization_id=organization.id,
        )

    async def create_in_project(
        self, principal: Principal, project_id: int, data: RoleCreate
    ) -> Role:
        project = await self.authorizer.project(principal, project_id, "role:create")
        return await self._add(
            principal, data, project.current_user_permissions, project_id=project.id
        )

    async def _add(
        self,
        principal: Principal,
        data: RoleCreate,
        held: Iterable[str],
        *,
        organization_id: int | None = None,
        project_id: int | None = None,
    ) -> Role:
        permissions = _valid_permissions(data.permissions)
        # Whoever is given the role gets these: the creator must hold them where it belongs.
        self.authorizer.ensure_grantable(permissions, held)
        role = Role(
            name=data.name,
            description=data.description or "",
            is_predefined=False,
            permissions=permissions,
            organization_id=organization_id,
            project_id=project_id,
            created_by=None if principal.is_project_token else principal.user_id,
        )
        await self.roles.add(role)
        return await self.roles.load_relations(role)

    async def get(self, principal: Principal, role_id: int) -> Role:
        role = await self.authorizer.role(principal, role_id, "role:read")
        return await self.roles.load_relations(role)

    async def update(self, principal: Principal, role_id: int, data: RoleUpdate) -> None:
        role = await self.authorizer.role(principal, role_id, "role:update")
        if data.id != role.id:
            raise ValidationFailed.field("id", "The id must match the role in the URL.")
        role.name = data.name
        if "description" in data.model_fields_set:
            role.description = data.description or ""
        permissions = _valid_permissions(data.permissions)
        # The role may already be given to teams and tokens (her own among them): what it
        # gains, the editor hands out, so she must hold it where the role belongs.
        held = await self.authorizer.role_permissions(principal, role) or frozenset()
        self.authorizer.ensure_grantable(permissions, held, already=role.permissions)
        role.permissions = permissions
        await self.session.flush()

    async def delete(self, principal: Principal, role_id: int) -> None:
        role = await self.authorizer.role(principal, role_id, "role:delete")
        if await self.roles.in_use(role.id):
            raise Conflict("The role is still given to a team or an API token.")
        await self.roles.delete(role)

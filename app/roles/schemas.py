from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import Id, RequestModel, ResponseModel, Timestamp
from app.organizations.schemas import OrganizationRelation
from app.users.schemas import UserRelation

RoleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=60)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Permissions = Annotated[
    list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=500)
]


class RoleCreate(RequestModel):
    name: RoleName
    description: Description | None = None
    permissions: Permissions


class RoleUpdate(RoleCreate):
    id: Id


class RoleRelation(ResponseModel):
    id: int
    name: str
    description: str
    # The older API's project roles; null for predefined and organization roles.
    project_id: int | None
    is_predefined: bool
    permissions: list[str]
    created_at: Timestamp
    updated_at: Timestamp


class Role(RoleRelation):
    parent: RoleRelation | None
    organization: OrganizationRelation | None
    created_by_user: UserRelation | None


class StaticPermission(ResponseModel):
    name: str
    human_readable: str
    hint: str
    required_permissions: list[str]


class PermissionRelation(ResponseModel):
    resource_type: str
    human_readable: str
    permissions: list[StaticPermission]

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import (
    Id,
    RequestModel,
    ResourceSummaryItem,
    ResponseModel,
    Timestamp,
    WithPermissions,
)
from app.organizations.schemas import OrganizationRelation
from app.users.schemas import UserRelation

ProjectName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
LogoUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^https?://\S+$")
]


class OsUser(ResponseModel):
    name: str


class ProjectCreate(RequestModel):
    name: ProjectName
    logo_image: str | None = None
    logo_url: LogoUrl | None = None


class ProjectUpdate(ProjectCreate):
    id: Id


class ProjectRelation(ResponseModel):
    id: int
    user_id: int
    name: str
    logo_url: str | None
    os_users: list[OsUser] = Field(default_factory=list)
    organization: OrganizationRelation | None
    created_by_user: UserRelation | None
    created_at: Timestamp
    updated_at: Timestamp


class Project(ProjectRelation, WithPermissions):
    resource_summary: list[ResourceSummaryItem] = Field(default_factory=list)

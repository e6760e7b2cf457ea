from __future__ import annotations

from pydantic import Field

from app.core.schemas import ResponseModel, Timestamp
from app.organizations.schemas import OrganizationRelation
from app.users.schemas import UserRelation


class OsUser(ResponseModel):
    name: str


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

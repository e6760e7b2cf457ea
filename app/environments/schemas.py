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
from app.environments.models import EnvironmentType
from app.projects.schemas import ProjectRelation
from app.users.schemas import UserRelation

EnvironmentName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]


class EnvironmentCreate(RequestModel):
    type: EnvironmentType
    name: EnvironmentName
    description: Description | None = None


class EnvironmentUpdate(EnvironmentCreate):
    id: Id


class EnvironmentRelation(ResponseModel):
    id: int
    type: EnvironmentType
    type_human_readable: str
    name: str
    description: str | None
    created_at: Timestamp
    updated_at: Timestamp
    archived_at: Timestamp | None
    project: ProjectRelation


class EnvironmentTeam(ResponseModel):
    """The reference's TeamRelation, as listed inside an environment."""

    id: int
    name: str
    photo_url: str | None
    created_by_user: UserRelation | None
    created_at: Timestamp
    updated_at: Timestamp


class Environment(WithPermissions):
    id: int
    type: EnvironmentType
    type_human_readable: str
    name: str
    description: str | None
    is_archived: bool
    resource_summary: list[ResourceSummaryItem] = Field(default_factory=list)
    teams: list[EnvironmentTeam] = Field(default_factory=list)
    created_by_user: UserRelation | None
    created_at: Timestamp
    updated_at: Timestamp

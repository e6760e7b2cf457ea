from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field, StringConstraints, TypeAdapter
from sqlalchemy import RowMapping

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


_RELATIONS: TypeAdapter[list[EnvironmentRelation]] = TypeAdapter(list[EnvironmentRelation])


def project_environment_relations(
    project: ProjectRelation, rows: Iterable[RowMapping]
) -> list[EnvironmentRelation]:
    """Environments of one project, from their own columns: the project is validated once
    and shared by every item (validation keeps a model instance as it is), and the items
    are validated in one call instead of read attribute by attribute off ORM objects."""
    return _RELATIONS.validate_python([
        {**row, "type_human_readable": EnvironmentType(row["type"]).human_readable,
         "project": project}
        for row in rows
    ])


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

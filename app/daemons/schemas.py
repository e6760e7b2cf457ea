from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from app.core.schemas import RequestModel, Timestamp
from app.projects.schemas import ProjectRelation
from app.resources_common.fields import ONE_LINE, OptionalPath, SlugName, UnixUser
from app.resources_common.relations import ApplicationRelation, DaemonBase, ServerRelation
from app.resources_common.relations import DaemonRelation as DaemonRelation
from app.resources_common.schemas import (
    EnvironmentRelation,
    Id,
    LinkedResources,
    check_directory,
)
from app.users.schemas import UserRelation

Command = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    ONE_LINE,
]
ProcessCount = Annotated[int, Field(ge=1, le=99)]


class _DaemonFields(RequestModel):
    # Declared before working_directory, whose rule depends on it.
    application_id: Id | None = None
    name: SlugName
    command: Command
    process_count: ProcessCount
    working_directory: OptionalPath
    run_as_user: UnixUser

    @field_validator("working_directory")
    @classmethod
    def _working_directory(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_directory(value, info)


class DaemonEnvironmentCreate(_DaemonFields):
    linked_resources: LinkedResources = Field(default_factory=list)


class DaemonUpdate(_DaemonFields):
    id: Id


class Daemon(DaemonBase):
    project: ProjectRelation
    last_action: None = None
    application: ApplicationRelation | None
    environment: EnvironmentRelation
    servers: list[ServerRelation]
    created_by_user: UserRelation
    created_at: Timestamp
    updated_at: Timestamp

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.projects.schemas import ProjectRelation
from app.resources_common import validators
from app.resources_common.fields import Path255, SlugName, UnixUser
from app.resources_common.relations import ApplicationRelation, ServerRelation
from app.resources_common.relations import DaemonRelation as DaemonRelation
from app.resources_common.schemas import EnvironmentRelation, Id, LinkedResources
from app.users.schemas import UserRelation

Command = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
ProcessCount = Annotated[int, Field(ge=1, le=99)]


class _DaemonFields(RequestModel):
    name: SlugName
    command: Command
    process_count: ProcessCount
    working_directory: Path255 | None
    run_as_user: UnixUser
    application_id: Id | None = None

    @model_validator(mode="after")
    def _working_directory(self) -> _DaemonFields:
        if self.working_directory is None:
            return self
        try:
            if self.application_id is None:
                validators.validate_absolute_path(self.working_directory)
            else:
                validators.validate_relative_path(self.working_directory)
        except ValueError as exc:
            raise ValueError(
                f"working_directory {exc} (relative when linked to an application, "
                "absolute otherwise)"
            ) from None
        return self


class DaemonEnvironmentCreate(_DaemonFields):
    linked_resources: LinkedResources = Field(default_factory=list)


class DaemonUpdate(_DaemonFields):
    id: Id


class Daemon(ResponseModel):
    id: int
    name: str
    command: str
    run_as_user: str
    working_directory: str | None
    process_count: int
    is_auto_generated: bool
    project: ProjectRelation
    last_action: None = None
    application: ApplicationRelation | None
    environment: EnvironmentRelation
    servers: list[ServerRelation]
    created_by_user: UserRelation
    created_at: Timestamp
    updated_at: Timestamp

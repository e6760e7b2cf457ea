from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import RequestModel, Timestamp
from app.projects.schemas import ProjectRelation
from app.resources_common.fields import ONE_LINE, CronPattern, UnixUser
from app.resources_common.relations import ApplicationRelation, CronJobBase, ServerRelation
from app.resources_common.relations import CronJobRelation as CronJobRelation
from app.resources_common.schemas import EnvironmentRelation, Id, LinkedResources
from app.users.schemas import UserRelation

CronName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60),
    ONE_LINE,
]
Command = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=5, max_length=255),
    ONE_LINE,
]


class _CronJobFields(RequestModel):
    name: CronName
    command: Command
    pattern: CronPattern
    run_as_user: UnixUser
    application_id: Id | None = None


class CronJobEnvironmentCreate(_CronJobFields):
    linked_resources: LinkedResources = Field(default_factory=list)


class CronJobUpdate(_CronJobFields):
    id: Id


class CronJob(CronJobBase):
    created_by_user: UserRelation
    application: ApplicationRelation | None
    project: ProjectRelation
    environment: EnvironmentRelation
    servers: list[ServerRelation]
    created_at: Timestamp
    updated_at: Timestamp

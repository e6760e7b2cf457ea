from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from app.core.schemas import RequestModel, Timestamp
from app.projects.schemas import ProjectRelation
from app.resources_common.fields import ONE_LINE
from app.resources_common.relations import ServerRelation, ServiceBase
from app.resources_common.relations import ServiceRelation as ServiceRelation
from app.resources_common.schemas import EnvironmentRelation, Id, LinkedResources
from app.services.models import ServiceInitialState
from app.static_options.catalog import SERVICE_TYPES
from app.users.schemas import UserRelation

ServiceType = Literal[
    "docker", "mysql", "newrelic-infra", "nginx", "php", "postgresql", "redis", "supervisor",
    "ufw",
]
Version = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30),
    ONE_LINE,
]


class ServiceEnvironmentCreate(RequestModel):
    type: ServiceType
    version: Version
    linked_resources: LinkedResources = Field(default_factory=list)
    auto_start: bool = True
    initial_state: ServiceInitialState = ServiceInitialState.STARTED

    @field_validator("version")
    @classmethod
    def _supported_version(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")
        if kind is not None and value not in SERVICE_TYPES[kind][2]:
            raise ValueError(
                f"{kind} {value} is not supported; supported: "
                + ", ".join(SERVICE_TYPES[kind][2])
            )
        return value


class ServiceUpdate(RequestModel):
    id: Id
    # Not in the reference's ServiceUpdate (which carries only the id): optional settings
    # an older client may still send.
    auto_start: bool | None = None
    initial_state: ServiceInitialState | None = None


class Service(ServiceBase):
    initial_state: ServiceInitialState
    environment: EnvironmentRelation
    created_by_user: UserRelation
    project: ProjectRelation
    servers: list[ServerRelation]
    last_action: None = None
    created_at: Timestamp
    updated_at: Timestamp

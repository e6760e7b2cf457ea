from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.projects.schemas import ProjectRelation
from app.resources_common.relations import ServerRelation
from app.resources_common.relations import ServiceRelation as ServiceRelation
from app.resources_common.schemas import EnvironmentRelation, Id, LinkedResources
from app.services.models import ServiceInitialState
from app.static_options.catalog import SERVICE_TYPES
from app.users.schemas import UserRelation

ServiceType = Literal[
    "docker", "mysql", "newrelic-infra", "nginx", "php", "postgresql", "redis", "supervisor",
    "ufw",
]
Version = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]


class ServiceEnvironmentCreate(RequestModel):
    linked_resources: LinkedResources = Field(default_factory=list)
    auto_start: bool = True
    initial_state: ServiceInitialState = ServiceInitialState.STARTED
    type: ServiceType
    version: Version

    @model_validator(mode="after")
    def _supported_version(self) -> ServiceEnvironmentCreate:
        supported = SERVICE_TYPES[self.type][2]
        if self.version not in supported:
            raise ValueError(
                f"version {self.version} of {self.type} is not supported; supported: "
                + ", ".join(supported)
            )
        return self


class ServiceUpdate(RequestModel):
    id: Id
    # Not in the reference's ServiceUpdate (which carries only the id): optional settings
    # an older client may still send.
    auto_start: bool | None = None
    initial_state: ServiceInitialState | None = None


class Service(ResponseModel):
    id: int
    name: str
    type: str
    type_human_readable: str
    version: str | None
    is_auto_generated: bool
    auto_start: bool
    initial_state: ServiceInitialState
    description: str | None
    environment: EnvironmentRelation
    created_by_user: UserRelation
    project: ProjectRelation
    servers: list[ServerRelation]
    last_action: None = None
    created_at: Timestamp
    updated_at: Timestamp

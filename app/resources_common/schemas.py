"""Request pieces shared by resource bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import RequestModel
from app.environments.schemas import EnvironmentRelation as EnvironmentRelation
from app.resources_common.models import ResourceType

Id = Annotated[int, Field(ge=1)]
TriggerComment = Annotated[str, StringConstraints(max_length=255)]


class ResourceToBeLinked(RequestModel):
    resource_type: ResourceType
    resource_id: Id


LinkedResources = Annotated[list[ResourceToBeLinked], Field(max_length=100)]


class OperationRequest(RequestModel):
    """Body of operations that start an action (deploy, start, stop, ...)."""

    servers: Annotated[list[Id], Field(max_length=100)] | None = None
    trigger_comment: TriggerComment | None = None


"""Request pieces shared by resource bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo

from app.core.schemas import RequestModel
from app.environments.schemas import EnvironmentRelation as EnvironmentRelation
from app.resources_common import validators
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



def check_directory(value: str | None, info: ValidationInfo) -> str | None:
    """A directory relative to the application when one is linked, absolute otherwise."""
    if value is None:
        return None
    if info.data.get("application_id") is None:
        return validators.validate_absolute_path(value)
    return validators.validate_relative_path(value)

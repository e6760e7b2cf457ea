from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.core.schemas import ResponseModel, Timestamp

LinkType = Literal["child", "parent"]


class LinkedResourceSummaryField(ResponseModel):
    field_name: str
    field_name_human_readable: str
    value: str


class LinkedResourceData(ResponseModel):
    id: int
    name: str
    summary_fields: list[LinkedResourceSummaryField] = Field(default_factory=list)
    environment_id: int | None
    environment_name: str | None
    project_id: int | None
    project_name: str | None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None


class ResourceLinkChild(ResponseModel):
    link_type: LinkType
    resource_id: int
    resource_type: str
    resource_type_human_readable: str
    can_be_unlinked: bool
    linked_resource_data: LinkedResourceData
    created_at: Timestamp
    updated_at: Timestamp


class ResourceLinkRelation(ResourceLinkChild):
    children: list[ResourceLinkChild] = Field(default_factory=list)

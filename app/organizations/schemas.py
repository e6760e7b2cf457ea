from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import (
    RequestModel,
    ResourceSummaryItem,
    ResponseModel,
    Timestamp,
    WithPermissions,
)
from app.users.schemas import UserRelation

OrganizationName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)
]
UrlSlug = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=2,
        max_length=30,
        pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
    ),
]


class OrganizationCreate(RequestModel):
    name: OrganizationName
    url_slug: UrlSlug | None = None


class OrganizationUpdate(RequestModel):
    # Documented as a string (id or slug); clients that send the numeric id are understood.
    id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | int
    name: OrganizationName
    url_slug: UrlSlug


class OrganizationRelation(ResponseModel):
    id: int
    name: str
    url_slug: str
    created_at: Timestamp
    updated_at: Timestamp


class OrganizationListItem(OrganizationRelation):
    owner: UserRelation


class Organization(WithPermissions):
    id: int
    name: str
    url_slug: str
    resource_summary: list[ResourceSummaryItem] = Field(default_factory=list)
    owner: UserRelation
    created_at: Timestamp
    updated_at: Timestamp

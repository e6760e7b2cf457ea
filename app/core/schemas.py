"""Pydantic building blocks shared by every domain's schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

_TIMESTAMP = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"


@lru_cache(maxsize=4096)
def format_timestamp(value: datetime) -> str:
    """The reference's date format: UTC, microseconds, `Z` (2015-05-12T15:50:38.000000Z)."""
    # Large responses format thousands of these (every target and step of an action carries
    # four). Formatting the fields is about twice as fast as `isoformat`, which asks an
    # aware value's zone for its offset once more; values read from the database are
    # already in UTC (naive ones are UTC by convention), so only others are converted.
    # Remembered: a list repeats the same few values (each environment of a page carries
    # its project's, and rows written together share theirs). Equal values are the same
    # instant, so they format alike whatever their zone.
    zone = value.tzinfo
    if zone is not None and zone is not UTC:
        value = value.astimezone(UTC)
    return _TIMESTAMP % (value.year, value.month, value.day, value.hour, value.minute,
                         value.second, value.microsecond)


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]

# Database ids are 32-bit on PostgreSQL's `integer`: larger values can name nothing.
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=255)]


class ResponseModel(BaseModel):
    """Base of every response schema: built from ORM objects or dicts."""

    model_config = ConfigDict(from_attributes=True)


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are ignored, as older clients send extras."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class ResourceCount(ResponseModel):
    count: int


class ResourceSummaryItem(ResponseModel):
    resource_type: str
    resource_type_plural: str
    resource_type_human_readable: str
    resource_type_human_readable_plural: str
    summary: ResourceCount


class WithPermissions(ResponseModel):
    current_user_permissions: list[str] = Field(default_factory=list)

"""Annotated field types for resource request bodies, with the reference's limits."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from app.resources_common import validators


def text(min_length: int = 1, max_length: int = 255) -> type[str]:
    return Annotated[  # type: ignore[return-value]
        str, StringConstraints(strip_whitespace=True, min_length=min_length,
                               max_length=max_length)
    ]


UnixUser = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60,
                      pattern=r"^[a-z_][a-z0-9_.-]*\$?$"),
]
SlugName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60,
                      pattern=r"^[A-Za-z0-9_-]+$"),
]
CronPattern = Annotated[
    str, StringConstraints(min_length=1, max_length=100),
    AfterValidator(validators.validate_cron),
]
Port = Annotated[int, Field(ge=1, le=65535)]
Path255 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]

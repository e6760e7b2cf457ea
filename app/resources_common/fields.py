"""Annotated field types for resource request bodies, with the reference's limits.

Every text field that ends up in a file or a command line on a server (a path, a name, a
user, an address, a command) is a `line`: it refuses control characters, so that a line
break can never add a directive, a unit setting or a crontab entry. Only fields that are
meant to hold several lines (file contents, PEM blocks, descriptions) are plain `str`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from app.resources_common import validators

# The rule a one-line field carries (tests look for it on every such field).
ONE_LINE = AfterValidator(validators.refuse_control_characters)


def line(min_length: int = 1, max_length: int = 255, pattern: str | None = None) -> type[str]:
    """One line of text, stripped, within the given length (and pattern)."""
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length,
                          pattern=pattern),
        ONE_LINE,
    ]


def text(min_length: int = 1, max_length: int = 255) -> type[str]:
    return line(min_length, max_length)


def blank_as_none(value: Any) -> Any:
    """Clients send "" for "not set" (a daemon's working directory, a virtual host's root:
    the application's own directory); the contract sets no minimum length."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


UnixUser = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60,
                      pattern=r"^[a-z_][a-z0-9_.-]*\$?$"),
    ONE_LINE,
]
SlugName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60,
                      pattern=r"^[A-Za-z0-9_-]+$"),
    ONE_LINE,
]
CronPattern = Annotated[
    str, StringConstraints(min_length=1, max_length=100), ONE_LINE,
    AfterValidator(validators.validate_cron),
]
Port = Annotated[int, Field(ge=1, le=65535)]
Path255 = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), ONE_LINE
]
# A path that may be left unset with null or "".
OptionalPath = Annotated[Path255 | None, BeforeValidator(blank_as_none)]

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import StringConstraints, ValidationInfo, field_validator

from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.resources_common.fields import ONE_LINE
from app.resources_common.relations import VariableRelation as VariableRelation
from app.resources_common.schemas import Id
from app.users.schemas import UserRelation
from app.variables.models import VariableType

VariableTarget = Literal[
    "my-cnf", "newrelic-infra-yml", "nginx-http-server", "nginx-http", "nginx-main",
    "os-env-var", "php-cli_php-ini", "php-fpm_php-fpm-conf", "php-fpm_php-ini",
    "php-fpm_pool-d-www-conf", "redis-conf", "resource-config-file", "resource-symlink",
    "supervisord-conf", "sysctl-conf",
]
Key = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    ONE_LINE,
]
# File contents keep their whitespace (the request model strips strings by default).
Value = Annotated[str, StringConstraints(strip_whitespace=False, max_length=21504)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The type each target implies: files and links are their own kinds, every other target is
# a key/value setting.
_TARGET_TYPES = {"resource-config-file": VariableType.FILE,
                 "resource-symlink": VariableType.SYMLINK}


class VariableCreate(RequestModel):
    # Declared in this order: each rule reads the fields above it.
    target: VariableTarget
    type: VariableType
    key: Key
    value: Value
    description: Description | None = None
    hidden: bool

    @field_validator("type")
    @classmethod
    def _type_fits_target(cls, value: VariableType, info: ValidationInfo) -> VariableType:
        target = info.data.get("target")
        if target is not None:
            expected = _TARGET_TYPES.get(target, VariableType.VARIABLE)
            if value is not expected:
                raise ValueError(f"must be {expected} for target {target}")
        return value

    @field_validator("key")
    @classmethod
    def _key_fits_target(cls, value: str, info: ValidationInfo) -> str:
        target = info.data.get("target")
        if target == "os-env-var" and not _ENV_NAME.match(value):
            raise ValueError(
                "an environment variable name has only letters, digits and underscores and "
                "does not start with a digit"
            )
        if target in _TARGET_TYPES and (value.startswith("/") or ".." in value.split("/")):
            raise ValueError("must be a path relative to the resource")
        return value


class VariableUpdate(VariableCreate):
    id: Id


class Variable(ResponseModel):
    id: int
    key: str
    type: VariableType
    description: str | None
    value: str | None
    target: VariableTarget
    target_human_readable: str
    resource_id: int | None
    resource_type: str
    hidden: bool
    created_by_user: UserRelation | None
    created_at: Timestamp
    updated_at: Timestamp

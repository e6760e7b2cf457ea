from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import StringConstraints, model_validator

from app.core.schemas import RequestModel, ResponseModel, Timestamp
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
Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Value = Annotated[str, StringConstraints(max_length=21504)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The type each target implies: files and links are their own kinds, every other target is
# a key/value setting.
_TARGET_TYPES = {"resource-config-file": VariableType.FILE,
                 "resource-symlink": VariableType.SYMLINK}


class VariableCreate(RequestModel):
    key: Key
    value: Value
    description: Description | None = None
    target: VariableTarget
    type: VariableType
    hidden: bool

    @model_validator(mode="after")
    def _consistent(self) -> VariableCreate:
        expected = _TARGET_TYPES.get(self.target, VariableType.VARIABLE)
        if self.type is not expected:
            raise ValueError(f"type must be {expected} for target {self.target}")
        if self.target == "os-env-var" and not _ENV_NAME.match(self.key):
            raise ValueError(
                "key of an os-env-var must contain only letters, digits and underscores and "
                "not start with a digit"
            )
        if self.type in (VariableType.FILE, VariableType.SYMLINK) and (
            self.key.startswith("/") or ".." in self.key.split("/")
        ):
            raise ValueError("key of a file or symlink must be a path relative to the resource")
        return self


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

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.resources_common import validators
from app.resources_common.fields import ONE_LINE, OptionalPath
from app.resources_common.relations import ApplicationRelation, SslCertificateRelation
from app.resources_common.relations import VirtualHostRelation as VirtualHostRelation
from app.resources_common.schemas import Id, LinkedResources, check_directory
from app.users.schemas import UserRelation
from app.virtual_hosts.models import VirtualHostType

HostName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    ONE_LINE,
]
ListenAddress = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    ONE_LINE,
]


class _VirtualHostFields(RequestModel):
    # Declared before root_directory, whose rule (on create) depends on it.
    application_id: Id | None = None
    root_directory: OptionalPath = None
    application_listen_address: ListenAddress | None = None

    _listen = field_validator("application_listen_address")(
        lambda v: None if v is None else validators.validate_listen_address(v)
    )


def check_name(kind: VirtualHostType, name: str) -> str:
    if kind is VirtualHostType.NAME_BASED:
        return validators.validate_domain(name, allow_wildcard=True)
    return validators.validate_ip_with_optional_port(name)


class VirtualHostEnvironmentCreate(_VirtualHostFields):
    type: VirtualHostType
    linked_resources: LinkedResources = Field(default_factory=list)
    name: HostName

    _root = field_validator("root_directory")(check_directory)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")
        return check_name(kind, value) if isinstance(kind, VirtualHostType) else value


class VirtualHostUpdate(_VirtualHostFields):
    """An update may leave `application_id` out and keep the host's application: the
    service checks `root_directory` against the application the host ends up with."""

    id: Id
    name: HostName


class VirtualHost(ResponseModel):
    id: int
    type: VirtualHostType
    type_human_readable: str
    name: str
    application: ApplicationRelation | None
    root_directory: str | None
    application_listen_address: str | None
    ssl_certificate: SslCertificateRelation | None
    last_action: None = None
    created_by_user: UserRelation
    created_at: Timestamp
    updated_at: Timestamp

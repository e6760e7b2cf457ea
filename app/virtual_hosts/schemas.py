from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.resources_common import validators
from app.resources_common.relations import ApplicationRelation, SslCertificateRelation
from app.resources_common.relations import VirtualHostRelation as VirtualHostRelation
from app.resources_common.schemas import Id, LinkedResources
from app.users.schemas import UserRelation
from app.virtual_hosts.models import VirtualHostType

HostName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Path255 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
ListenAddress = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)
]


class _VirtualHostFields(RequestModel):
    root_directory: Path255 | None = None
    application_listen_address: ListenAddress | None = None
    application_id: Id | None = None

    def _check_paths(self) -> None:
        if self.application_listen_address is not None:
            try:
                validators.validate_listen_address(self.application_listen_address)
            except ValueError as exc:
                raise ValueError(f"application_listen_address {exc}") from None
        if self.root_directory is not None:
            try:
                if self.application_id is None:
                    validators.validate_absolute_path(self.root_directory)
                else:
                    validators.validate_relative_path(self.root_directory)
            except ValueError as exc:
                raise ValueError(
                    f"root_directory {exc} (relative when linked to an application, "
                    "absolute otherwise)"
                ) from None


def check_name(kind: VirtualHostType, name: str) -> str:
    try:
        if kind is VirtualHostType.NAME_BASED:
            return validators.validate_domain(name, allow_wildcard=True)
        return validators.validate_ip_with_optional_port(name)
    except ValueError as exc:
        raise ValueError(f"name {exc}") from None


class VirtualHostEnvironmentCreate(_VirtualHostFields):
    linked_resources: LinkedResources = Field(default_factory=list)
    type: VirtualHostType
    name: HostName

    @model_validator(mode="after")
    def _rules(self) -> VirtualHostEnvironmentCreate:
        self.name = check_name(self.type, self.name)
        self._check_paths()
        return self


class VirtualHostUpdate(_VirtualHostFields):
    id: Id
    name: HostName

    @model_validator(mode="after")
    def _rules(self) -> VirtualHostUpdate:
        self._check_paths()
        return self


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

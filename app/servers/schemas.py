from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.core import outbound
from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.credentials.schemas import CredentialRelation
from app.projects.schemas import ProjectRelation
from app.resources_common import validators
from app.resources_common.fields import ONE_LINE
from app.resources_common.relations import ServerRelation as ServerRelation
from app.resources_common.schemas import EnvironmentRelation, Id, LinkedResources
from app.servers.models import CloudServiceCode, ServerStatus
from app.static_options.catalog import OS_VERSIONS, SERVICE_TYPES
from app.users.schemas import UserRelation

ServiceTypeName = Literal[
    "docker", "mysql", "newrelic-infra", "nginx", "php", "postgresql", "redis", "supervisor",
    "ufw",
]
OsVersionCode = Literal[
    "centos_7", "ubuntu_18_04", "ubuntu_20_04", "ubuntu_22_04", "ubuntu_24_04", "ubuntu_26_04"
]
SshPort = Annotated[int, Field(ge=22, le=65535)]
MaxParallelActions = Annotated[int, Field(ge=0, le=10)]
UnixUser = Annotated[
    str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}$", max_length=32), ONE_LINE
]


def _reachable_ipv4(value: str) -> str:
    """An IPv4 address the control plane may connect to (see app.core.outbound)."""
    address = validators.validate_ipv4(value)
    try:
        outbound.check_host(address)
    except outbound.OutboundRefused as exc:
        raise ValueError(str(exc)) from None
    return address


class BlueprintService(RequestModel):
    type: ServiceTypeName
    version: Annotated[str, StringConstraints(min_length=1, max_length=30), ONE_LINE]
    auto_start: bool = True
    initial_state: Literal["started", "stopped"] = "started"

    @field_validator("version")
    @classmethod
    def _offered_version(cls, value: str, info: ValidationInfo) -> str:
        # Provisioning installs exactly what the service catalogue offers.
        kind = info.data.get("type")
        if kind is not None and value not in SERVICE_TYPES[kind][2]:
            raise ValueError(
                f"{kind} {value} is not offered; choose one of " + ", ".join(SERVICE_TYPES[kind][2])
            )
        return value


class ProvisionInput(RequestModel):
    subnet_id: Id | None = None
    cloud_service_code: CloudServiceCode
    settings: dict[str, Any] = Field(default_factory=dict, validate_default=True)

    @field_validator("settings")
    @classmethod
    def _os_version(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        self_hosted = info.data.get("cloud_service_code") is CloudServiceCode.SELF_HOSTED_CUSTOM
        if self_hosted and value.get("os_version_code") not in OS_VERSIONS:
            raise ValueError("os_version_code must be one of " + ", ".join(OS_VERSIONS))
        return value


def _self_hosted(info: ValidationInfo) -> bool:
    provision = info.data.get("provision_input")
    return (
        isinstance(provision, ProvisionInput)
        and provision.cloud_service_code is CloudServiceCode.SELF_HOSTED_CUSTOM
    )


class ServerEnvironmentCreate(RequestModel):
    # Declared first: the address rules below depend on the cloud service.
    provision_input: ProvisionInput
    linked_resources: LinkedResources = Field(default_factory=list)
    hostname: Annotated[str, StringConstraints(min_length=1, max_length=60), ONE_LINE]
    ip_address: Annotated[str, ONE_LINE] | None = Field(default=None, validate_default=True)
    ssh_port: SshPort | None = Field(default=None, validate_default=True)
    max_parallel_actions: MaxParallelActions = 1
    blueprint: Annotated[list[BlueprintService], Field(max_length=20)] = Field(
        default_factory=list
    )
    credential_id: int | Annotated[str, ONE_LINE] | None = None
    # Not in the reference: the OS user actions log in as (the engine's SSH user).
    ssh_user: UnixUser = "root"

    _hostname = field_validator("hostname")(lambda v: validators.validate_hostname(v))

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            if _self_hosted(info):
                raise ValueError("required for self-hosted-custom servers")
            return None
        return _reachable_ipv4(value)

    @field_validator("ssh_port")
    @classmethod
    def _port(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None and _self_hosted(info):
            raise ValueError("required for self-hosted-custom servers")
        return value


class ServerUpdate(RequestModel):
    id: Id
    ip_address: Annotated[str, ONE_LINE] | None = None
    ssh_port: SshPort | None = None
    max_parallel_actions: MaxParallelActions | None = None
    credential_id: int | Annotated[str, ONE_LINE] | None = None
    ssh_user: UnixUser | None = None

    _ip = field_validator("ip_address")(lambda v: None if v is None else _reachable_ipv4(v))


class OperatingSystemVersion(ResponseModel):
    name: str
    code_name: str
    version: str
    os_version_code: str
    os_version_code_human_readable: str
    released_at: str
    end_standard_support_at: str
    end_of_life_at: str


class Server(ResponseModel):
    id: int
    created_by: int
    name: str
    hostname: str
    provider_name: str
    provider_name_human_readable: str
    cloud_service_code: CloudServiceCode
    # A cloud server has none until its instance runs; the reference types it as a string.
    ip_address: Annotated[str, BeforeValidator(lambda v: v or "")]
    ssh_port: int
    ssh_user: str
    os: OperatingSystemVersion
    os_version_code: str | None
    active: bool
    status: ServerStatus
    max_parallel_actions: int
    blueprint: dict[str, Any]
    provision_input: dict[str, Any]
    created_by_user: UserRelation
    project: ProjectRelation
    last_action: None = None
    environment: EnvironmentRelation
    credential: CredentialRelation | None = Field(
        default=None, validation_alias="credential_record"
    )
    created_at: Timestamp
    updated_at: Timestamp


class ServerCommand(ResponseModel):
    connect_command: str

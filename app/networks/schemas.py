from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import StringConstraints, field_validator

from app.core.schemas import Id, RequestModel, ResponseModel, Timestamp
from app.credentials.schemas import Credential, CredentialRelation
from app.environments.schemas import EnvironmentRelation
from app.projects.schemas import ProjectRelation
from app.users.schemas import UserRelation

ResourceName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=63)
]
CloudServiceCode = Literal[
    "aws-ec2", "azure-rm", "digitalocean-droplet", "gcp-gce", "hetzner-hcloud",
    "self-hosted-custom",
]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Cidr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=43)]


class NetworkSettingsInput(RequestModel):
    region: Short
    cidr_block: Cidr | None = None


class NetworkProvisionInputIn(RequestModel):
    cloud_service_code: CloudServiceCode
    settings: NetworkSettingsInput


class NetworkCreate(RequestModel):
    name: ResourceName
    provision_input: NetworkProvisionInputIn
    credential_id: Id

    @field_validator("name")
    @classmethod
    def _not_default(cls, value: str) -> str:
        if value.lower() == "default":
            raise ValueError("the name 'default' is reserved")
        return value


class NetworkUpdate(RequestModel):
    id: int
    credential_id: Id


class SubnetSettingsInput(RequestModel):
    region: Short | None = None
    zone: Short | None = None
    cidr_block: Cidr


class SubnetProvisionInputIn(RequestModel):
    settings: SubnetSettingsInput


class SubnetCreate(RequestModel):
    name: ResourceName
    type: Literal["public"] = "public"
    provision_input: SubnetProvisionInputIn
    credential_id: Id


def _creator_id(value: int | None) -> int:
    # The creator's account may be gone (SET NULL); the reference wants a number.
    return value or 0


class NetworkRelation(ResponseModel):
    id: int
    project_id: int
    environment_id: int
    created_by: int
    is_auto_generated: bool
    provider_name: str
    provider_name_human_readable: str
    credential: Credential | None = None
    name: str
    provision_input: dict[str, Any]
    last_action: None = None
    created_at: Timestamp
    updated_at: Timestamp

    _creator = field_validator("created_by", mode="before")(_creator_id)


class Network(ResponseModel):
    id: int
    provider_name: str
    provider_name_human_readable: str
    name: str
    provision_input: dict[str, Any]
    created_by_user: UserRelation | None
    project: ProjectRelation
    environment: EnvironmentRelation
    credential: CredentialRelation | None
    last_action: None = None
    created_at: Timestamp
    updated_at: Timestamp


class SubnetRelation(ResponseModel):
    id: int
    project_id: int
    environment_id: int
    created_by: int
    network: NetworkRelation | None
    name: str
    type: str
    is_auto_generated: bool
    provision_input: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp

    _creator = field_validator("created_by", mode="before")(_creator_id)


class Subnet(ResponseModel):
    id: int
    name: str
    type: str
    is_auto_generated: bool
    provision_input: dict[str, Any]
    created_by_user: UserRelation | None
    project: ProjectRelation
    environment: EnvironmentRelation
    network: NetworkRelation | None
    credential: CredentialRelation | None
    last_action: None = None
    created_at: Timestamp
    updated_at: Timestamp

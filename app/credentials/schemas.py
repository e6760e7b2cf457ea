from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.credentials.catalogue import ProviderType
from app.organizations.schemas import OrganizationRelation
from app.users.schemas import UserRelation

CredentialName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)
]
ProviderCode = Annotated[str, StringConstraints(max_length=32)]


class CredentialInput(BaseModel):
    # Every provider's fields arrive in one object; the catalogue validates them by
    # provider, so unknown keys are kept here and checked there.
    model_config = ConfigDict(extra="allow")


class CredentialInputSettings(RequestModel):
    credential: dict[str, Any]


class CredentialCreate(RequestModel):
    name: CredentialName
    provider_code: ProviderCode
    provider_type: ProviderType
    active: bool
    settings: CredentialInputSettings


class CredentialUpdate(RequestModel):
    id: int
    name: CredentialName
    settings: CredentialInputSettings | None = None


class ProviderRelation(ResponseModel):
    active: bool
    code: str
    code_human_readable: str
    type: str
    type_human_readable: str


class CredentialRelation(ResponseModel):
    id: int
    name: str
    provider: ProviderRelation
    provider_type: str
    provider_type_human_readable: str
    provider_auth_type: str
    provider_auth_type_human_readable: str
    active: bool
    created_by_user: UserRelation | None
    created_at: Timestamp
    updated_at: Timestamp
    last_action: None = None
    # Beyond the reference: the outcome of the last get-status (never a secret).
    status: str | None = None
    status_message: str | None = None
    status_checked_at: Timestamp | None = None


class Credential(CredentialRelation):
    organization: OrganizationRelation | None


# ---- settings, options and repositories


class FieldValidation(ResponseModel):
    required: bool
    type: str
    min: int
    max: int
    allowed_values: list[str] = Field(default_factory=list)


class ProviderInputSetting(ResponseModel):
    name: str
    name_human_readable: str
    validation: FieldValidation
    default_value: str | None = None
    sensitive: bool


class ProviderCallbackConfig(ResponseModel):
    field: str
    query_string: str
    required: bool
    type: str


class SourceProviderAuthMethod(ResponseModel):
    auth_type: str
    auth_type_human_readable: str
    hint: str
    recommended: bool
    connect_url: str | None = None
    input_settings: list[ProviderInputSetting]
    provider_config: list[ProviderCallbackConfig] = Field(default_factory=list)


class CredentialProviderTypeOut(ResponseModel):
    type: str
    type_human_readable: str


class CredentialSetting(ResponseModel):
    provider: CredentialProviderTypeOut
    organization_id: int
    environment_id: int | None = None
    settings: dict[str, Any]


class CredentialProvider(ResponseModel):
    code: str
    name: str
    hint: str
    type: str
    type_human_readable: str


class CredentialOptions(ResponseModel):
    provider_types: list[CredentialProviderTypeOut]
    supported_providers: list[CredentialProvider]


class RepositoryRelation(ResponseModel):
    name: str
    user_name: str
    full_name: str
    html_url: str


class Commit(ResponseModel):
    hash: str
    message: str
    committed_at: str
    provider: str
    repository: str
    url: str
    author_email: str
    author_name: str


class RepositoryBranch(ResponseModel):
    name: str
    repo_full_name: str
    commit: Commit


class RepositoryTagCommit(ResponseModel):
    hash: str
    url: str


class RepositoryTag(ResponseModel):
    name: str
    commit: RepositoryTagCommit


class Repository(RepositoryRelation):
    branches: list[RepositoryBranch]
    tags: list[RepositoryTag]

"""The reference's `*Relation` shapes of environment resources (the compact form embedded
in other responses and used by lists). Kept together: they reference each other, details
reference them, and one module keeps that graph free of import cycles."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from app.core.schemas import ResponseModel, Timestamp
from app.users.schemas import UserRelation


class ServerRelation(ResponseModel):
    id: int
    created_by: int
    name: str
    hostname: str
    provider_name: str
    provider_name_human_readable: str
    credential: None = None
    region: str | None
    region_human_readable: str | None
    # A cloud server has none until its instance runs; the reference types it as a string.
    ip_address: Annotated[str, BeforeValidator(lambda v: v or "")]
    ssh_port: int
    active: bool
    status: str
    last_action: None = None
    created_at: Timestamp
    updated_at: Timestamp


# A `*Base` holds the leading fields a resource's compact and full shapes share, in the
# reference's order; each shape adds the rest (a field it redeclares keeps its place).
class ApplicationBase(ResponseModel):
    id: int
    project_id: int
    environment_id: int
    created_by: int
    name: str
    repository: str
    repository_name: str
    repository_owner: str
    default_branch: str
    programming_language: str
    programming_language_human_readable: str
    engine_version: str
    framework: str
    framework_human_readable: str
    root_directory: str | None
    deployments_keep: int
    install_dependencies_command: str | None
    build_command: str | None


class ApplicationRelation(ApplicationBase):
    last_deployments: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class ServiceBase(ResponseModel):
    id: int
    name: str
    type: str
    type_human_readable: str
    version: str | None
    is_auto_generated: bool
    auto_start: bool
    initial_state: str
    description: str | None


class ServiceRelation(ServiceBase):
    last_action: None = None
    created_at: Timestamp
    updated_at: Timestamp


class DaemonBase(ResponseModel):
    id: int
    name: str
    command: str
    run_as_user: str
    working_directory: str | None
    process_count: int
    is_auto_generated: bool


class DaemonRelation(DaemonBase):
    last_action: None = None
    application: ApplicationRelation | None
    created_by_user: UserRelation | None
    created_at: Timestamp
    updated_at: Timestamp


class CronJobBase(ResponseModel):
    id: int
    name: str
    command: str
    run_as_user: str
    pattern: str
    pattern_human_readable: str
    is_auto_generated: bool
    last_action: None = None


class CronJobRelation(CronJobBase):
    created_by_user: UserRelation | None
    application: ApplicationRelation | None
    created_at: Timestamp
    updated_at: Timestamp


class SslCertificateRelation(ResponseModel):
    id: int
    name: str
    type: str
    issuer: str
    validation_level: str
    active: bool
    last_action: None = None
    expires_at: Timestamp | None
    last_renewed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class VirtualHostRelation(ResponseModel):
    id: int
    type: str
    type_human_readable: str
    name: str
    application: ApplicationRelation | None
    root_directory: str | None
    application_listen_address: str | None
    ssl_certificate: SslCertificateRelation | None
    last_action: None = None
    created_by_user: UserRelation | None
    created_at: Timestamp
    updated_at: Timestamp


class NetworkRuleBase(ResponseModel):
    id: int
    name: str
    direction: str
    protocol: str
    port: int
    cidr_block: str
    is_auto_generated: bool
    last_action: None = None


class NetworkRuleRelation(NetworkRuleBase):
    created_at: Timestamp
    updated_at: Timestamp


class SshKeyBase(ResponseModel):
    id: int
    created_by: int
    project_id: int
    environment_id: int
    name: str
    fingerprint: str


class SshKeyRelation(SshKeyBase):
    last_action: None = None
    created_at: Timestamp
    updated_at: Timestamp


class VariableRelation(ResponseModel):
    id: int
    key: str
    type: str
    description: str | None
    value: str | None
    target: str
    target_human_readable: str
    resource_id: int | None
    resource_type: str
    hidden: bool
    created_by_user: UserRelation | None
    created_at: Timestamp
    updated_at: Timestamp

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, TimestampMixin
from app.environments.summary import EnvironmentResource as SummaryEntry
from app.environments.summary import register_environment_resource
from app.resources_common.models import EnvironmentResource, ResourceType
from app.static_options.catalog import OS_VERSIONS

if TYPE_CHECKING:
    from app.credentials.models import Credential


class ServerStatus(enum.StrEnum):
    CONFIGURING = "configuring"
    FAILED = "failed"
    PENDING = "pending"
    PROVISIONED = "provisioned"
    PROVISIONING = "provisioning"
    RESTARTING = "restarting"
    RUNNING = "running"
    STOPPED = "stopped"


class CloudServiceCode(enum.StrEnum):
    AWS_EC2 = "aws-ec2"
    AZURE_RM = "azure-rm"
    DIGITALOCEAN_DROPLET = "digitalocean-droplet"
    GCP_GCE = "gcp-gce"
    HETZNER_HCLOUD = "hetzner-hcloud"
    SELF_HOSTED_CUSTOM = "self-hosted-custom"


PROVIDER_NAMES = {
    CloudServiceCode.AWS_EC2: ("aws", "Amazon Web Services"),
    CloudServiceCode.AZURE_RM: ("azure", "Microsoft Azure"),
    CloudServiceCode.DIGITALOCEAN_DROPLET: ("digitalocean", "DigitalOcean"),
    CloudServiceCode.GCP_GCE: ("gcp", "Google Cloud Platform"),
    CloudServiceCode.HETZNER_HCLOUD: ("hetzner", "Hetzner"),
    CloudServiceCode.SELF_HOSTED_CUSTOM: ("self-hosted", "Self-hosted"),
}


class Server(EnvironmentResource, TimestampMixin, Base):
    __tablename__ = "servers"
    __table_args__ = (
        UniqueConstraint("environment_id", "hostname", name="uq_servers_environment_hostname"),
        Index("ix_servers_environment_created", "environment_id", "id"),
    )
    RESOURCE_TYPE = ResourceType.SERVER

    name: Mapped[str] = mapped_column(String(60))
    hostname: Mapped[str] = mapped_column(String(60))
    cloud_service_code: Mapped[str] = mapped_column(String(32))
    # What the action engine needs to reach the machine over SSH.
    ip_address: Mapped[str | None] = mapped_column(String(45))
    ssh_port: Mapped[int] = mapped_column(default=22)
    ssh_user: Mapped[str] = mapped_column(String(32), default="root")
    # OpenSSH known_hosts line pinned on first connection; None until the engine pins it.
    host_key: Mapped[str | None] = mapped_column(Text)
    max_parallel_actions: Mapped[int] = mapped_column(default=1)
    os_version_code: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default=ServerStatus.PENDING)
    active: Mapped[bool] = mapped_column(default=True)
    # A plain id (no foreign key): shown, like it is used, only while the credential is
    # linked to the server's environment, so a stale or foreign id reveals nothing.
    credential_id: Mapped[int | None]
    # Named apart from `credential` so the compact ServerRelation, embedded everywhere,
    # never asks for it.
    credential_record: Mapped[Credential | None] = relationship(
        "Credential",
        secondary="credential_environments",
        primaryjoin="and_(Server.credential_id == "
        "foreign(CredentialEnvironment.credential_id), "
        "Server.environment_id == foreign(CredentialEnvironment.environment_id))",
        secondaryjoin="foreign(CredentialEnvironment.credential_id) == Credential.id",
        uselist=False, viewonly=True, lazy="raise",
    )
    blueprint_services: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    provision_input: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The server's own key pair once rotated (until then the environment's key is used).
    ssh_public_key: Mapped[str | None] = mapped_column(Text)
    ssh_private_key_encrypted: Mapped[str | None] = mapped_column(Text)
    # Connect tokens are signed for the current nonce; connecting bumps it (single use).
    activation_nonce: Mapped[int] = mapped_column(default=0, server_default="0")
    # What the last get-status reported (load, memory, disk, OS) and when.
    status_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status_checked_at: Mapped[datetime | None]
    # The cloud instance behind the server (created through its provider) and what was
    # created with it (disks, keys, security groups), for start/stop and destroy.
    provider_instance_id: Mapped[str | None] = mapped_column(String(512))
    provider_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @property
    def provider_name(self) -> str:
        return PROVIDER_NAMES[CloudServiceCode(self.cloud_service_code)][0]

    @property
    def provider_name_human_readable(self) -> str:
        return PROVIDER_NAMES[CloudServiceCode(self.cloud_service_code)][1]

    @property
    def region_human_readable(self) -> str | None:
        return self.region

    @property
    def blueprint(self) -> dict[str, Any]:
        return {
            "name": f"bp-from-server:{self.hostname}",
            "type": "server",
            "spec": {"services": self.blueprint_services},
        }

    @property
    def os(self) -> dict[str, Any]:
        # Only self-hosted servers are stored and they always name their OS version.
        return OS_VERSIONS[self.os_version_code or ""].as_dict()


register_environment_resource(
    SummaryEntry(
        "server",
        "servers",
        "Server",
        "Servers",
        Server.environment_id,
    )
)

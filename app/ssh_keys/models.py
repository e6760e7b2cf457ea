from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin
from app.environments.summary import EnvironmentResource as SummaryEntry
from app.environments.summary import register_environment_resource
from app.resources_common.models import EnvironmentResource, ResourceType, servers_relationship

if TYPE_CHECKING:
    from app.servers.models import Server


class SshKey(EnvironmentResource, TimestampMixin, Base):
    """An SSH public key to authorise on the environment's servers (public material only:
    the reference neither accepts nor returns private keys here)."""

    __tablename__ = "ssh_keys"
    __table_args__ = (
        UniqueConstraint("environment_id", "fingerprint_sha256",
                         name="uq_ssh_keys_environment_fingerprint"),
    )
    RESOURCE_TYPE = ResourceType.SSH_KEY

    name: Mapped[str] = mapped_column(String(60))
    key_type: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(47))
    fingerprint_sha256: Mapped[str] = mapped_column(String(64))

    servers: Mapped[list[Server]] = servers_relationship("ssh-key", "SshKey")


register_environment_resource(
    SummaryEntry(
        "ssh-key",
        "ssh-keys",
        "SSH Key",
        "SSH Keys",
        SshKey.environment_id,
    )
)

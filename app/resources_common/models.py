"""What every environment resource shares: its environment, project and creator, and the
servers it runs on (one link table for all resource types)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from app.core.database import Base, utcnow

if TYPE_CHECKING:
    from app.environments.models import Environment
    from app.projects.models import Project
    from app.users.models import User


class ResourceType(enum.StrEnum):
    """The reference's ResourceType values this server stores."""

    APPLICATION = "application"
    CREDENTIAL = "credential"
    CRONJOB = "cronjob"
    DAEMON = "daemon"
    DEPLOYMENT = "deployment"
    NETWORK = "network"
    NETWORK_RULE = "network-rule"
    SERVER = "server"
    SERVICE = "service"
    SSH_KEY = "ssh-key"
    SSL_CERTIFICATE = "ssl-certificate"
    SUBNET = "subnet"
    VIRTUAL_HOST = "virtual-host"


class ResourceServer(Base):
    """Resource (type, id) runs on server `server_id`. Removing a server removes its links;
    removing a resource removes its links in the resource's service (no FK can point at a
    polymorphic id)."""

    __tablename__ = "resource_servers"
    __table_args__ = (Index("ix_resource_servers_server_id", "server_id"),)

    resource_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource_id: Mapped[int] = mapped_column(primary_key=True)
    server_id: Mapped[int] = mapped_column(
        ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnvironmentResource:
    """Columns and relationships of a resource that lives in an environment."""

    RESOURCE_TYPE: str

    id: Mapped[int] = mapped_column(primary_key=True)

    @declared_attr
    def environment_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("environments.id", ondelete="RESTRICT"), index=True)

    @declared_attr
    def project_id(cls) -> Mapped[int]:
        # Denormalised from the environment: responses carry it and filters use it.
        return mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"), index=True)

    @declared_attr
    def created_by(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    @declared_attr
    def environment(cls) -> Mapped[Environment]:
        return relationship(lazy="raise")

    @declared_attr
    def project(cls) -> Mapped[Project]:
        return relationship(lazy="raise")

    @declared_attr
    def created_by_user(cls) -> Mapped[User]:
        return relationship(lazy="raise", foreign_keys=[cls.created_by])  # type: ignore[list-item]

    @property
    def last_action(self) -> None:
        # Actions belong to the action engine; until it records them no action exists.
        return None


def servers_relationship(resource_type: str, owner: str) -> Any:
    """The servers a resource runs on, read through `resource_servers` (view only)."""
    return relationship(
        "Server",
        secondary="resource_servers",
        primaryjoin=(
            f"and_(foreign(ResourceServer.resource_id) == {owner}.id, "
            f"ResourceServer.resource_type == '{resource_type}')"
        ),
        secondaryjoin="foreign(ResourceServer.server_id) == Server.id",
        viewonly=True,
        lazy="raise",
        order_by="Server.id",
    )

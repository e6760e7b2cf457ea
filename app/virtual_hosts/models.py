from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, TimestampMixin
from app.environments.summary import EnvironmentResource as SummaryEntry
from app.environments.summary import register_environment_resource
from app.resources_common.models import EnvironmentResource, ResourceType, servers_relationship

if TYPE_CHECKING:
    from app.applications.models import Application
    from app.servers.models import Server
    from app.ssl_certificates.models import SslCertificate


class VirtualHostType(enum.StrEnum):
    IP_BASED = "ip-based"
    NAME_BASED = "name-based"

    @property
    def human_readable(self) -> str:
        return {"ip-based": "IP-based", "name-based": "Name-based"}[self.value]


class VirtualHost(EnvironmentResource, TimestampMixin, Base):
    __tablename__ = "virtual_hosts"
    __table_args__ = (
        UniqueConstraint("environment_id", "name", name="uq_virtual_hosts_environment_name"),
    )
    RESOURCE_TYPE = ResourceType.VIRTUAL_HOST

    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    root_directory: Mapped[str | None] = mapped_column(String(255))
    application_listen_address: Mapped[str | None] = mapped_column(String(255))
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="RESTRICT"), index=True
    )

    application: Mapped[Application | None] = relationship(
        "Application",
        back_populates="virtual_hosts", lazy="raise"
    )
    ssl_certificate: Mapped[SslCertificate | None] = relationship(
        "SslCertificate",
        back_populates="virtual_host", lazy="raise", viewonly=True, uselist=False
    )
    servers: Mapped[list[Server]] = servers_relationship("virtual-host", "VirtualHost")

    @property
    def type_human_readable(self) -> str:
        return VirtualHostType(self.type).human_readable


register_environment_resource(
    SummaryEntry(
        "virtual-host",
        "virtual-hosts",
        "Virtual Host",
        "Virtual Hosts",
        VirtualHost.environment_id,
    )
)

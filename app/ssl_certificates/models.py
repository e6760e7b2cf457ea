from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, TimestampMixin
from app.environments.summary import EnvironmentResource as SummaryEntry
from app.environments.summary import register_environment_resource
from app.resources_common.models import EnvironmentResource, ResourceType

if TYPE_CHECKING:
    from app.virtual_hosts.models import VirtualHost


class SslCertificate(EnvironmentResource, TimestampMixin, Base):
    __tablename__ = "ssl_certificates"
    RESOURCE_TYPE = ResourceType.SSL_CERTIFICATE

    name: Mapped[str] = mapped_column(String(255))
    # One certificate per virtual host; the host cannot be deleted while it has one.
    virtual_host_id: Mapped[int] = mapped_column(
        ForeignKey("virtual_hosts.id", ondelete="RESTRICT"), unique=True
    )
    issuer: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(16))
    validation_level: Mapped[str] = mapped_column(String(4))
    active: Mapped[bool] = mapped_column(default=False)
    custom_certificate: Mapped[str | None] = mapped_column(Text)
    # Sealed with SecretBox; never returned by the API.
    custom_private_key_encrypted: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    last_renewed_at: Mapped[datetime | None]

    virtual_host: Mapped[VirtualHost] = relationship(
        "VirtualHost",
        back_populates="ssl_certificate", lazy="raise"
    )


register_environment_resource(
    SummaryEntry(
        "ssl-certificate",
        "ssl-certificates",
        "SSL Certificate",
        "SSL Certificates",
        SslCertificate.environment_id,
    )
)

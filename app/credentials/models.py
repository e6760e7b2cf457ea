from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, CallerPermissionsMixin, TimestampMixin, utcnow
from app.core.sealed import register_sealed_column
from app.credentials.catalogue import AuthType, ProviderType, provider
from app.organizations.models import Organization
from app.users.models import User


class Credential(CallerPermissionsMixin, TimestampMixin, Base):
    """Access to a cloud or source provider, owned by an organization (or a personal
    project when the project has no organization) and linked to environments."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    provider_code: Mapped[str] = mapped_column(String(32))
    provider_type: Mapped[str] = mapped_column(String(32))
    auth_type: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # JSON of the provider's input fields, sealed with SecretBox; never sent to a client.
    settings_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(32))
    status_message: Mapped[str | None] = mapped_column(String(500))
    status_checked_at: Mapped[datetime | None]

    organization: Mapped[Organization | None] = relationship(lazy="raise")
    created_by_user: Mapped[User | None] = relationship(lazy="raise")

    @property
    def provider(self) -> dict[str, object]:
        definition = provider(self.provider_code)
        kind = ProviderType(self.provider_type)
        return {
            "active": True,
            "code": self.provider_code,
            "code_human_readable": definition.name if definition else self.provider_code,
            "type": kind.value,
            "type_human_readable": kind.human_readable,
        }

    @property
    def provider_type_human_readable(self) -> str:
        return ProviderType(self.provider_type).human_readable

    @property
    def provider_auth_type(self) -> str:
        return self.auth_type

    @property
    def provider_auth_type_human_readable(self) -> str:
        return AuthType(self.auth_type).human_readable


class CredentialEnvironment(Base):
    __tablename__ = "credential_environments"

    credential_id: Mapped[int] = mapped_column(
        ForeignKey("credentials.id", ondelete="CASCADE"), primary_key=True
    )
    environment_id: Mapped[int] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


register_sealed_column("credentials", "id", "settings_encrypted")

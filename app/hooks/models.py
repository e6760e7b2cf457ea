from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, CallerPermissionsMixin, TimestampMixin
from app.core.sealed import register_sealed_column
from app.users.models import User


class HookType(enum.StrEnum):
    INCOMING = "in"
    OUTGOING = "out"

    @classmethod
    def from_param(cls, value: str) -> HookType:
        return cls.INCOMING if value == "incoming" else cls.OUTGOING


class Hook(CallerPermissionsMixin, TimestampMixin, Base):
    """An incoming hook (a public URL that runs a pipeline) or an outgoing one (an HTTP
    call made when a pipeline's actions change state)."""

    __tablename__ = "hooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(String(60))
    action_type: Mapped[str] = mapped_column(String(32))
    # A hook lives and dies with the pipeline it triggers.
    pipeline_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    environment_id: Mapped[int] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    requires_secret: Mapped[bool] = mapped_column(default=False)
    # Sealed with SecretBox: shown to the hook's readers (they configure it at the sender),
    # never stored in clear.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    secret_algorithm: Mapped[str | None] = mapped_column(String(20))
    secret_header_name: Mapped[str | None] = mapped_column(String(64))
    verify_ssl: Mapped[bool] = mapped_column(default=True)
    target_url: Mapped[str | None] = mapped_column(String(2048))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    trigger_when: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_auto_generated: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    created_by_user: Mapped[User | None] = relationship(lazy="raise")


class HookRequest(TimestampMixin, Base):
    """One request to or from a hook, with the response it got."""

    __tablename__ = "hook_requests"
    __table_args__ = (Index("ix_hook_requests_hook_created", "hook_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hook_id: Mapped[str] = mapped_column(ForeignKey("hooks.id", ondelete="CASCADE"))
    action_id: Mapped[int | None]
    retry_of: Mapped[str | None] = mapped_column(String(36))
    ip_address: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2048))
    request_headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_body: Mapped[Any] = mapped_column(JSON, nullable=True)
    response_status_code: Mapped[int]
    response_headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    response_body: Mapped[Any] = mapped_column(JSON, nullable=True)

    hook: Mapped[Hook] = relationship(lazy="raise")


register_sealed_column("hooks", "id", "secret_encrypted")

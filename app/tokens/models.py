from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, TimestampMixin
from app.projects.models import Project
from app.roles.models import Role
from app.users.models import User


class ApiTokenType(enum.StrEnum):
    PERSONAL_ACCESS_TOKEN = "personal_access_token"
    PROJECT_API_TOKEN = "project_api_token"


class ApiTokenStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class ApiToken(TimestampMixin, Base):
    """Personal access tokens and project API tokens; only the secret's hash is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        Index("ix_api_tokens_user_type", "user_id", "type"),
        Index("ix_api_tokens_project", "project_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # PAT: the user it acts as. Project token: the user who created it (for the audit trail).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("roles.id", ondelete="RESTRICT"))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="raise")
    project: Mapped[Project | None] = relationship(lazy="raise")
    role: Mapped[Role | None] = relationship(lazy="raise")

    @property
    def status(self) -> ApiTokenStatus:
        return self.status_at(datetime.now(UTC))

    @property
    def token(self) -> str | None:
        """The plain secret, present only on the object that created or rotated it."""
        value: str | None = self.__dict__.get("_plain_token")
        return value

    def reveal(self, secret: str) -> None:
        self.__dict__["_plain_token"] = secret

    def status_at(self, now: datetime) -> ApiTokenStatus:
        if self.revoked_at is not None:
            return ApiTokenStatus.REVOKED
        if self.expires_at <= now:
            return ApiTokenStatus.EXPIRED
        return ApiTokenStatus.ACTIVE

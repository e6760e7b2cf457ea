from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, CallerPermissionsMixin, TimestampMixin
from app.projects.models import Project
from app.users.models import User


class EnvironmentType(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    STAGING = "staging"

    @property
    def human_readable(self) -> str:
        return self.value.capitalize()


class Environment(CallerPermissionsMixin, TimestampMixin, Base):
    __tablename__ = "environments"
    __table_args__ = (
        Index("ix_environments_project_archived", "project_id", "archived_at"),
        # A project's environments are listed by name: a page is read off the index in
        # order instead of sorting every environment of the project.
        Index("ix_environments_project_name", "project_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str | None] = mapped_column(String(255))
    archived_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The key the action engine presents to this environment's servers. The private half is
    # sealed with SecretBox and never leaves the server through the API.
    ssh_public_key: Mapped[str] = mapped_column(Text)
    ssh_private_key_encrypted: Mapped[str] = mapped_column(Text)

    project: Mapped[Project] = relationship(lazy="raise")
    created_by_user: Mapped[User | None] = relationship(lazy="raise")

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def type_human_readable(self) -> str:
        return EnvironmentType(self.type).human_readable

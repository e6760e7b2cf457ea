from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, CallerPermissionsMixin, TimestampMixin
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.users.models import User


class Team(CallerPermissionsMixin, TimestampMixin, Base):
    """A group of users; it belongs to an organization or (older clients) to a project."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    photo_url: Mapped[str | None] = mapped_column(String(2048))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    organization: Mapped[Organization | None] = relationship(lazy="raise")
    project: Mapped[Project | None] = relationship(lazy="raise")
    created_by_user: Mapped[User | None] = relationship(lazy="raise")
    # The database removes members with their team (ON DELETE CASCADE).
    members: Mapped[list[TeamMember]] = relationship(
        lazy="raise",
        back_populates="team",
        order_by="TeamMember.created_at",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def users(self) -> list[User]:
        return [member.user for member in self.members]


class TeamMember(TimestampMixin, Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    team: Mapped[Team] = relationship(lazy="raise", back_populates="members")
    user: Mapped[User] = relationship(lazy="raise")


class TeamLink(TimestampMixin, Base):
    """A team's access to exactly one organization, project or environment, with a role."""

    __tablename__ = "team_links"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN organization_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN project_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN environment_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_target",
        ),
        # NULLs are distinct in unique constraints on both databases, so each pair is unique
        # only where its target column is set.
        UniqueConstraint("team_id", "organization_id"),
        UniqueConstraint("team_id", "project_id"),
        UniqueConstraint("team_id", "environment_id"),
        Index("ix_team_links_organization_id", "organization_id"),
        Index("ix_team_links_project_id", "project_id"),
        Index("ix_team_links_environment_id", "environment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="RESTRICT"), index=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE")
    )

    team: Mapped[Team] = relationship(lazy="raise")
    role: Mapped[Role] = relationship(lazy="raise")
    organization: Mapped[Organization | None] = relationship(lazy="raise")
    project: Mapped[Project | None] = relationship(lazy="raise")
    environment: Mapped[Environment | None] = relationship(lazy="raise")


class TeamInvitationType(enum.StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"


class TeamInvitationStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    # A public invitation stays usable after someone accepts it.
    ACTIVE = "active"


class TeamInvitation(TimestampMixin, Base):
    __tablename__ = "team_invitations"
    __table_args__ = (Index("ix_team_invitations_email_status", "email", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    # Public invitations are accepted with a secret carried in their URL. It is sealed with
    # SecretBox (not hashed) because team managers may see the URL again later.
    token_encrypted: Mapped[str | None] = mapped_column(Text)
    accepted_from_ip: Mapped[str | None] = mapped_column(String(64))
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    team: Mapped[Team] = relationship(lazy="raise")
    created_by_user: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[created_by])

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, CallerPermissionsMixin, TimestampMixin
from app.organizations.models import Organization
from app.users.models import User


class Project(CallerPermissionsMixin, TimestampMixin, Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    logo_url: Mapped[str | None] = mapped_column(String(2048))
    # The owning user (the reference's `user_id`); for organization projects, the org owner.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    organization: Mapped[Organization | None] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise", foreign_keys=[user_id])
    created_by_user: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[created_by])

    @property
    def owner_type(self) -> str:
        return "org" if self.organization_id is not None else "user"

    @property
    def owner(self) -> User | Organization | None:
        """The owning organization, else the owning user (both must have been loaded)."""
        return self.organization if self.organization_id is not None else self.user

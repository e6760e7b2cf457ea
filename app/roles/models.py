from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, TimestampMixin
from app.organizations.models import Organization
from app.users.models import User


class Role(TimestampMixin, Base):
    """A named set of permissions from the catalogue (`resource_type:operation` strings).

    Predefined roles (no organization, no project) are usable everywhere; custom roles
    belong to one organization or, for clients of the older API, to one project.
    """

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024), default="")
    is_predefined: Mapped[bool] = mapped_column(default=False)
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("roles.id", ondelete="SET NULL"))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    organization: Mapped[Organization | None] = relationship(lazy="raise")
    created_by_user: Mapped[User | None] = relationship(lazy="raise")
    parent: Mapped[Role | None] = relationship(lazy="raise", remote_side=[id])

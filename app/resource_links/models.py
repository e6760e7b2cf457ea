from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin


class ResourceLink(TimestampMixin, Base):
    """A parent resource linked to a child resource, of any two registered types.

    Polymorphic ids cannot carry foreign keys: each domain's delete removes its links with
    `ResourceLinkRepository.delete_for` (called by `forget_resource`).
    """

    __tablename__ = "resource_links"
    __table_args__ = (
        UniqueConstraint("parent_type", "parent_id", "child_type", "child_id",
                         name="uq_resource_links_pair"),
        Index("ix_resource_links_child", "child_type", "child_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_type: Mapped[str] = mapped_column(String(40))
    parent_id: Mapped[int]
    child_type: Mapped[str] = mapped_column(String(40))
    child_id: Mapped[int]
    # Links the server creates itself (a subnet under its network) cannot be removed by hand.
    can_be_unlinked: Mapped[bool] = mapped_column(default=True)
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )

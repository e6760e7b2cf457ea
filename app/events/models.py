from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin


class ResourceEvent(TimestampMixin, Base):
    """One thing that happened to a resource: the audit log, queryable per resource."""

    __tablename__ = "resource_events"
    __table_args__ = (Index("ix_resource_events_resource", "resource_type", "resource_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[int]
    event_type: Mapped[str] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(String(500))
    # No foreign keys: the log outlives the users and tokens it names.
    triggered_by: Mapped[int | None]
    token_id: Mapped[str | None] = mapped_column(String(64))
    principal_kind: Mapped[str | None] = mapped_column(String(32))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    # {field: {"before": ..., "after": ...}}, secrets replaced by a mask.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="SET NULL"), index=True
    )

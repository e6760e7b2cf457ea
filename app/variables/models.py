from __future__ import annotations

import enum

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin
from app.resources_common.models import EnvironmentResource
from app.static_options.catalog import VARIABLE_TARGETS


class VariableType(enum.StrEnum):
    FILE = "file"
    SYMLINK = "symlink"
    VARIABLE = "variable"


class Variable(EnvironmentResource, TimestampMixin, Base):
    """A key/value deployed with a resource. Hidden values are sealed with SecretBox and
    never returned; visible values are stored as given."""

    __tablename__ = "variables"
    __table_args__ = (
        UniqueConstraint("resource_type", "resource_id", "target", "key",
                         name="uq_variables_resource_target_key"),
        Index("ix_variables_resource", "resource_type", "resource_id"),
    )
    RESOURCE_TYPE = "variable"

    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[int]
    key: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(255))
    hidden: Mapped[bool] = mapped_column(default=False)
    value_plain: Mapped[str | None] = mapped_column(Text)
    value_encrypted: Mapped[str | None] = mapped_column(Text)

    @property
    def value(self) -> str | None:
        return None if self.hidden else self.value_plain

    @property
    def target_human_readable(self) -> str:
        entry = VARIABLE_TARGETS.get(self.target)
        return entry[0] if entry else self.target

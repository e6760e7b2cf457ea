from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin
from app.environments.summary import EnvironmentResource as SummaryEntry
from app.environments.summary import register_environment_resource
from app.resources_common.models import EnvironmentResource, ResourceType, servers_relationship
from app.static_options.catalog import SERVICE_TYPES

if TYPE_CHECKING:
    from app.servers.models import Server


class ServiceInitialState(enum.StrEnum):
    STARTED = "started"
    STOPPED = "stopped"


class Service(EnvironmentResource, TimestampMixin, Base):
    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("environment_id", "name", name="uq_services_environment_name"),
    )
    RESOURCE_TYPE = ResourceType.SERVICE

    name: Mapped[str] = mapped_column(String(60))
    type: Mapped[str] = mapped_column(String(32))
    version: Mapped[str | None] = mapped_column(String(30))
    auto_start: Mapped[bool] = mapped_column(default=True)
    initial_state: Mapped[str] = mapped_column(String(16), default=ServiceInitialState.STARTED)
    description: Mapped[str | None] = mapped_column(String(255))
    is_auto_generated: Mapped[bool] = mapped_column(default=False)

    servers: Mapped[list[Server]] = servers_relationship("service", "Service")

    @property
    def type_human_readable(self) -> str:
        entry = SERVICE_TYPES.get(self.type)
        return entry[0] if entry else self.type


register_environment_resource(
    SummaryEntry(
        "service",
        "services",
        "Service",
        "Services",
        Service.environment_id,
    )
)

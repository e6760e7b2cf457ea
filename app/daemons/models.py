from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, TimestampMixin
from app.environments.summary import EnvironmentResource as SummaryEntry
from app.environments.summary import register_environment_resource
from app.resources_common.models import EnvironmentResource, ResourceType, servers_relationship

if TYPE_CHECKING:
    from app.applications.models import Application
    from app.servers.models import Server


class Daemon(EnvironmentResource, TimestampMixin, Base):
    __tablename__ = "daemons"
    __table_args__ = (
        UniqueConstraint("environment_id", "name", name="uq_daemons_environment_name"),
    )
    RESOURCE_TYPE = ResourceType.DAEMON

    name: Mapped[str] = mapped_column(String(60))
    command: Mapped[str] = mapped_column(String(255))
    run_as_user: Mapped[str] = mapped_column(String(60))
    working_directory: Mapped[str | None] = mapped_column(String(255))
    process_count: Mapped[int] = mapped_column(default=1)
    is_auto_generated: Mapped[bool] = mapped_column(default=False)
    # RESTRICT: an application with daemons is refused deletion with a 409 naming them.
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="RESTRICT"), index=True
    )

    application: Mapped[Application | None] = relationship(
        "Application",
        back_populates="daemons", lazy="raise"
    )
    servers: Mapped[list[Server]] = servers_relationship("daemon", "Daemon")


register_environment_resource(
    SummaryEntry(
        "daemon",
        "daemons",
        "Daemon",
        "Daemons",
        Daemon.environment_id,
    )
)

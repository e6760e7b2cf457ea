from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, TimestampMixin
from app.environments.summary import EnvironmentResource as SummaryEntry
from app.environments.summary import register_environment_resource
from app.resources_common.models import EnvironmentResource, ResourceType, servers_relationship
from app.resources_common.validators import cron_human_readable

if TYPE_CHECKING:
    from app.applications.models import Application
    from app.servers.models import Server


class CronJob(EnvironmentResource, TimestampMixin, Base):
    __tablename__ = "cron_jobs"
    RESOURCE_TYPE = ResourceType.CRONJOB

    name: Mapped[str] = mapped_column(String(60))
    command: Mapped[str] = mapped_column(String(255))
    pattern: Mapped[str] = mapped_column(String(100))
    run_as_user: Mapped[str] = mapped_column(String(60))
    is_auto_generated: Mapped[bool] = mapped_column(default=False)
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="RESTRICT"), index=True
    )

    application: Mapped[Application | None] = relationship(
        "Application",
        back_populates="cronjobs", lazy="raise"
    )
    servers: Mapped[list[Server]] = servers_relationship("cronjob", "CronJob")

    @property
    def pattern_human_readable(self) -> str:
        return cron_human_readable(self.pattern)


register_environment_resource(
    SummaryEntry(
        "cronjob",
        "cronjobs",
        "Cron Job",
        "Cron Jobs",
        CronJob.environment_id,
    )
)

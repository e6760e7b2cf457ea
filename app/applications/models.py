from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, String, Text, UniqueConstraint, and_, exists
from sqlalchemy.orm import Mapped, aliased, foreign, mapped_column, relationship

from app.core.database import Base, TimestampMixin
from app.environments.summary import EnvironmentResource as SummaryEntry
from app.environments.summary import register_environment_resource
from app.resources_common.models import (
    EnvironmentResource,
    ResourceServer,
    ResourceType,
    servers_relationship,
)
from app.static_options.catalog import LANGUAGE_RUNTIMES

if TYPE_CHECKING:
    from app.credentials.models import Credential
    from app.cron_jobs.models import CronJob
    from app.daemons.models import Daemon
    from app.servers.models import Server
    from app.services.models import Service
    from app.virtual_hosts.models import VirtualHost


class Application(EnvironmentResource, TimestampMixin, Base):
    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("environment_id", "name", name="uq_applications_environment_name"),
    )
    RESOURCE_TYPE = ResourceType.APPLICATION

    name: Mapped[str] = mapped_column(String(60))
    repository: Mapped[str] = mapped_column(String(255))
    default_branch: Mapped[str] = mapped_column(String(200))
    programming_language: Mapped[str] = mapped_column(String(30))
    engine_version: Mapped[str] = mapped_column(String(10))
    framework: Mapped[str] = mapped_column(String(30))
    root_directory: Mapped[str | None] = mapped_column(String(255))
    deployments_keep: Mapped[int] = mapped_column(default=5)
    install_dependencies_command: Mapped[str | None] = mapped_column(Text)
    build_command: Mapped[str | None] = mapped_column(Text)
    # A plain id (no foreign key): the credential is used, and shown, only while it is
    # linked to the application's environment, so a stale or foreign id reveals nothing.
    credential_id: Mapped[int | None]
    credential: Mapped[Credential | None] = relationship(
        "Credential",
        secondary="credential_environments",
        primaryjoin="and_(Application.credential_id == "
        "foreign(CredentialEnvironment.credential_id), "
        "Application.environment_id == foreign(CredentialEnvironment.environment_id))",
        secondaryjoin="foreign(CredentialEnvironment.credential_id) == Credential.id",
        uselist=False, viewonly=True, lazy="raise",
    )

    servers: Mapped[list[Server]] = servers_relationship("application", "Application")
    daemons: Mapped[list[Daemon]] = relationship(
        "Daemon",
        back_populates="application", lazy="raise", viewonly=True, order_by="Daemon.id"
    )
    cronjobs: Mapped[list[CronJob]] = relationship(
        "CronJob",
        back_populates="application", lazy="raise", viewonly=True, order_by="CronJob.id"
    )
    virtual_hosts: Mapped[list[VirtualHost]] = relationship(
        "VirtualHost",
        back_populates="application", lazy="raise", viewonly=True, order_by="VirtualHost.id"
    )
    # The environment's services that run on any of the application's servers, each once.
    services: Mapped[list[Service]] = relationship(
        "Service", primaryjoin=lambda: _services_on_its_servers(), viewonly=True,
        lazy="raise", order_by="Service.id",
    )

    @property
    def repository_owner(self) -> str:
        return _repository_parts(self.repository)[0]

    @property
    def repository_name(self) -> str:
        return _repository_parts(self.repository)[1]

    @property
    def programming_language_human_readable(self) -> str:
        runtime = LANGUAGE_RUNTIMES.get(self.programming_language)
        return runtime[0] if runtime else self.programming_language

    @property
    def framework_human_readable(self) -> str:
        runtime = LANGUAGE_RUNTIMES.get(self.programming_language)
        return runtime[2].get(self.framework, self.framework) if runtime else self.framework

    @property
    def last_deployments(self) -> dict[str, Any]:
        return {"latest": None, "live": None}


register_environment_resource(
    SummaryEntry(
        "application",
        "applications",
        "Application",
        "Applications",
        Application.environment_id,
    )
)


def _services_on_its_servers() -> ColumnElement[bool]:
    # By table: the services' model sits beside this one (evaluated when the mappers are
    # configured, once every model is declared).
    services = Base.metadata.tables["services"]
    application_link = aliased(ResourceServer, name="application_server")
    service_link = aliased(ResourceServer, name="service_server")
    # EXISTS, not a join through the links: a service on two of the servers is one item.
    return and_(
        foreign(services.c.environment_id) == Application.environment_id,
        exists().where(
            application_link.resource_type == "application",
            application_link.resource_id == Application.id,
            service_link.resource_type == "service",
            service_link.resource_id == services.c.id,
            service_link.server_id == application_link.server_id,
        ),
    )


def _repository_parts(repository: str) -> tuple[str, str]:
    """(owner, name) of `owner/name` or of a git URL's last two path segments."""
    path = repository.split("://", 1)[-1]
    if "://" not in repository and ":" in path and not path.startswith("/"):
        path = path.split(":", 1)[1]  # scp-like user@host:owner/name.git
    segments = [s for s in path.split("/") if s]
    name = segments[-1].removesuffix(".git") if segments else repository
    owner = segments[-2] if len(segments) >= 2 else ""
    return owner, name

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.catalogue.service import region_name
from app.core.database import Base, CallerPermissionsMixin, TimestampMixin
from app.credentials.catalogue import PROVIDERS
from app.credentials.models import Credential
from app.environments.models import Environment
from app.environments.summary import EnvironmentResource, register_environment_resource
from app.users.models import User


class Network(CallerPermissionsMixin, TimestampMixin, Base):
    __tablename__ = "networks"
    __table_args__ = (UniqueConstraint("environment_id", "name", name="uq_networks_env_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int] = mapped_column(
        ForeignKey("environments.id", ondelete="RESTRICT"), index=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    credential_id: Mapped[int] = mapped_column(
        ForeignKey("credentials.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    provider_name: Mapped[str] = mapped_column(String(32))
    cloud_service_code: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(64))
    cidr_block: Mapped[str | None] = mapped_column(String(43))
    is_auto_generated: Mapped[bool] = mapped_column(default=False)
    # The provider's id once created there (None: not created at the provider yet).
    provider_id: Mapped[str | None] = mapped_column(String(512))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    environment: Mapped[Environment] = relationship(lazy="raise")
    credential: Mapped[Credential] = relationship(lazy="raise")
    created_by_user: Mapped[User | None] = relationship(lazy="raise")

    @property
    def provider_name_human_readable(self) -> str:
        definition = PROVIDERS.get(self.provider_name)
        return definition.name if definition else self.provider_name

    @property
    def provision_input(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "region": self.region,
            "region_human_readable": region_name(self.cloud_service_code, self.region),
        }
        if self.cidr_block is not None:
            settings["cidr_block"] = self.cidr_block
        return {"cloud_service_code": self.cloud_service_code, "settings": settings}

    @property
    def project(self) -> Any:
        return self.environment.project


class Subnet(CallerPermissionsMixin, TimestampMixin, Base):
    __tablename__ = "subnets"
    __table_args__ = (UniqueConstraint("network_id", "name", name="uq_subnets_network_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="RESTRICT"), index=True
    )
    environment_id: Mapped[int] = mapped_column(
        ForeignKey("environments.id", ondelete="RESTRICT"), index=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    credential_id: Mapped[int] = mapped_column(
        ForeignKey("credentials.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    type: Mapped[str] = mapped_column(String(16), default="public")
    region: Mapped[str | None] = mapped_column(String(64))
    zone: Mapped[str | None] = mapped_column(String(64))
    cidr_block: Mapped[str] = mapped_column(String(43))
    is_auto_generated: Mapped[bool] = mapped_column(default=False)
    provider_id: Mapped[str | None] = mapped_column(String(512))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    network: Mapped[Network] = relationship(lazy="raise")
    environment: Mapped[Environment] = relationship(lazy="raise")
    credential: Mapped[Credential] = relationship(lazy="raise")
    created_by_user: Mapped[User | None] = relationship(lazy="raise")

    @property
    def provision_input(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"cidr_block": self.cidr_block}
        if self.region:
            settings["region"] = self.region
            settings["region_human_readable"] = region_name(
                self.network.cloud_service_code, self.region
            )
        if self.zone:
            settings["zone"] = self.zone
        return {"settings": settings}

    @property
    def project(self) -> Any:
        return self.environment.project


register_environment_resource(
    EnvironmentResource("network", "networks", "Network", "Networks", Network.environment_id)
)
register_environment_resource(
    EnvironmentResource("subnet", "subnets", "Subnet", "Subnets", Subnet.environment_id)
)

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin
from app.environments.summary import EnvironmentResource as SummaryEntry
from app.environments.summary import register_environment_resource
from app.resources_common.models import EnvironmentResource, ResourceType, servers_relationship

if TYPE_CHECKING:
    from app.servers.models import Server


class NetworkRuleDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class NetworkRuleProtocol(enum.StrEnum):
    ANY = "any"
    ICMP = "icmp"
    TCP = "tcp"
    UDP = "udp"


class NetworkRule(EnvironmentResource, TimestampMixin, Base):
    __tablename__ = "network_rules"
    RESOURCE_TYPE = ResourceType.NETWORK_RULE

    name: Mapped[str] = mapped_column(String(60))
    direction: Mapped[str] = mapped_column(String(16))
    protocol: Mapped[str] = mapped_column(String(8))
    port: Mapped[int]
    cidr_block: Mapped[str] = mapped_column(String(64))
    is_auto_generated: Mapped[bool] = mapped_column(default=False)

    servers: Mapped[list[Server]] = servers_relationship("network-rule", "NetworkRule")


register_environment_resource(
    SummaryEntry(
        "network-rule",
        "network-rules",
        "Network Rule",
        "Network Rules",
        NetworkRule.environment_id,
    )
)

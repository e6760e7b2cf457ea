from __future__ import annotations

from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.network_rules.models import NetworkRule
from app.resources_common.repository import EnvironmentResourceRepository


class NetworkRuleRepository(EnvironmentResourceRepository[NetworkRule]):
    model = NetworkRule

    def options(self) -> list[LoaderOption]:
        return [*super().options(), selectinload(NetworkRule.servers)]

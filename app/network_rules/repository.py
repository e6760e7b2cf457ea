from __future__ import annotations

from app.network_rules.models import NetworkRule
from app.resources_common.repository import Collection, EnvironmentResourceRepository


class NetworkRuleRepository(EnvironmentResourceRepository[NetworkRule]):
    model = NetworkRule

    def collections(self) -> list[Collection]:
        return [Collection.of(NetworkRule.servers)]

"""Network rules: firewall openings applied on the environment's servers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.network_rules.models import NetworkRule
from app.network_rules.repository import NetworkRuleRepository
from app.network_rules.schemas import NetworkRuleEnvironmentCreate, NetworkRuleUpdate
from app.resources_common.service import (
    EnvironmentResourceService,
    check_body_id,
    linked_server_ids,
    ownership,
)


class NetworkRuleService(EnvironmentResourceService[NetworkRule]):
    label = "Network rule"
    resource_type = "network-rule"

    def __init__(self, session: AsyncSession) -> None:
        self.rules = NetworkRuleRepository(session)
        super().__init__(session, self.rules)

    async def create(
        self, principal: Principal, environment_id: int, data: NetworkRuleEnvironmentCreate
    ) -> NetworkRule:
        environment = await self.environment_for_create(principal, environment_id)
        server_ids = await linked_server_ids(
            self.session, environment_id, data.linked_resources, principal
        )
        rule = NetworkRule(
            **ownership(environment, principal),
            name=data.name,
            direction=data.direction,
            protocol=data.protocol,
            port=data.port,
            cidr_block=data.cidr_block,
        )
        return await self.add_linked(rule, server_ids)

    async def update(self, principal: Principal, rule_id: int, data: NetworkRuleUpdate) -> None:
        check_body_id(data.id, rule_id)
        rule = await self.get(principal, rule_id, "update")
        rule.name = data.name
        rule.direction = data.direction
        rule.cidr_block = data.cidr_block
        if data.protocol is not None:
            rule.protocol = data.protocol
        await self.session.flush()

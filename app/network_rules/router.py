"""HTTP for network rules: the routes every environment resource has, and its operations
(`deploy`)."""

from __future__ import annotations

from app.core.deps import SessionDep
from app.network_rules import schemas
from app.network_rules.service import NetworkRuleService
from app.resources_common.router import environment_resource_router


async def get_service(session: SessionDep) -> NetworkRuleService:
    return NetworkRuleService(session)


router = environment_resource_router(
    "Network Rules", get_service, ("network-rules", "network_rule_id", "NetworkRule"),
    (schemas.NetworkRule, schemas.NetworkRuleRelation,
     schemas.NetworkRuleEnvironmentCreate, schemas.NetworkRuleUpdate),
    [("deploy", "deployNetworkRule")],
)

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.core.deps import SessionDep
from app.network_rules import schemas
from app.network_rules.service import NetworkRuleService
from app.resources_common.router import Route, add_operation_routes, add_routes

router = APIRouter(tags=["Network Rules"])


def get_service(session: SessionDep) -> NetworkRuleService:
    return NetworkRuleService(session)


Service = Annotated[NetworkRuleService, Depends(get_service)]


add_routes(router, Service, [
    Route("GET", "/environments/{environment_id:int}/network-rules", "listEnvironmentNetworkRules",
          "list", list[schemas.NetworkRuleRelation], paged=True),
    Route("POST", "/environments/{environment_id:int}/network-rules", "addEnvironmentNetworkRule",
          "create", schemas.NetworkRule, 201, schemas.NetworkRuleEnvironmentCreate),
    Route("GET", "/network-rules/{network_rule_id:int}", "getNetworkRule", "get",
          schemas.NetworkRule),
    Route("PUT", "/network-rules/{network_rule_id:int}", "updateNetworkRule", "update", None, 204,
          schemas.NetworkRuleUpdate),
    Route("DELETE", "/network-rules/{network_rule_id:int}", "deleteNetworkRule", "delete", None,
          204),
])


add_operation_routes(router, "/network-rules", "network_rule_id", get_service,
                     [("deploy", "deployNetworkRule")])

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access.auth import CurrentPrincipal
from app.core.deps import SessionDep
from app.core.pagination import PageDep
from app.network_rules import schemas
from app.network_rules.models import NetworkRule
from app.network_rules.service import NetworkRuleService
from app.resources_common.router import add_operation_routes, no_content

router = APIRouter(tags=["Network Rules"])


def get_service(session: SessionDep) -> NetworkRuleService:
    return NetworkRuleService(session)


Service = Annotated[NetworkRuleService, Depends(get_service)]


@router.get(
    "/environments/{environment_id:int}/network-rules",
    operation_id="listEnvironmentNetworkRules",
    response_model=list[schemas.NetworkRuleRelation],
)
async def list_environment_network_rules(
    environment_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[NetworkRule]:
    return await service.list(principal, environment_id, page)


@router.post(
    "/environments/{environment_id:int}/network-rules",
    operation_id="addEnvironmentNetworkRule",
    status_code=201,
    response_model=schemas.NetworkRule,
)
async def add_environment_network_rule(
    environment_id: int,
    data: schemas.NetworkRuleEnvironmentCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> NetworkRule:
    return await service.create(principal, environment_id, data)


@router.get(
    "/network-rules/{network_rule_id:int}",
    operation_id="getNetworkRule",
    response_model=schemas.NetworkRule,
)
async def get_network_rule(
    network_rule_id: int, service: Service, principal: CurrentPrincipal
) -> NetworkRule:
    return await service.get(principal, network_rule_id)


@router.put(
    "/network-rules/{network_rule_id:int}", operation_id="updateNetworkRule", status_code=204,
    response_class=Response,
)
async def update_network_rule(
    network_rule_id: int,
    data: schemas.NetworkRuleUpdate,
    service: Service,
    principal: CurrentPrincipal,
) -> Response:
    await service.update(principal, network_rule_id, data)
    return no_content()


@router.delete(
    "/network-rules/{network_rule_id:int}", operation_id="deleteNetworkRule", status_code=204,
    response_class=Response,
)
async def delete_network_rule(
    network_rule_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, network_rule_id)
    return no_content()


add_operation_routes(router, "/network-rules", "network_rule_id", get_service,
                     [("deploy", "deployNetworkRule")])

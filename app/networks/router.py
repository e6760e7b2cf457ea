from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from app.core.auth import CurrentPrincipal
from app.core.deps import ClientIP, SessionDep, SettingsDep
from app.core.pagination import PageDep
from app.networks import schemas
from app.networks.models import Network, Subnet
from app.networks.service import NetworkService
from app.resources_common.operations import ACTION_ID_HEADER
from app.resources_common.router import Route, action_response, add_routes, no_content

router = APIRouter()

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Filter = Annotated[str | None, Query(max_length=64)]


def get_service(session: SessionDep, settings: SettingsDep) -> NetworkService:
    return NetworkService(session, settings)


Service = Annotated[NetworkService, Depends(get_service)]


@router.get(
    "/environments/{environment_id:int}/networks",
    operation_id="listEnvironmentNetworks",
    response_model=list[schemas.NetworkRelation],
    tags=["Networks"],
)
async def list_environment_networks(
    environment_id: Id, service: Service, principal: CurrentPrincipal, page: PageDep,
    include_default_network: bool = False, provider_name: Filter = None, region: Filter = None,
) -> Sequence[Network]:
    return await service.list_networks(
        principal, environment_id, page, provider_name=provider_name, region=region,
        include_default=include_default_network,
    )


@router.post(
    "/environments/{environment_id:int}/networks",
    operation_id="addEnvironmentNetwork",
    status_code=201,
    response_model=schemas.Network,
    tags=["Networks"],
)
async def add_environment_network(
    environment_id: Id, data: schemas.NetworkCreate, service: Service,
    principal: CurrentPrincipal, ip: ClientIP, response: Response,
) -> Network:
    network = await service.create_network(principal, ip, environment_id, data)
    # The action that creates it at the provider.
    response.headers[ACTION_ID_HEADER] = str(service.last_action_id)
    return network


add_routes(router, Service, [
    Route("GET", "/environments/{environment_id:int}/subnets", "listEnvironmentSubnets",
          "list_environment_subnets", list[schemas.SubnetRelation], paged=True, tags=("Subnets",)),
    Route("GET", "/networks/{network_id:int}", "getNetwork", "get_network", schemas.Network,
          tags=("Networks",)),
], {"environment_id": Id, "network_id": Id})


@router.put(
    "/networks/{network_id:int}",
    operation_id="updateNetwork",
    status_code=204,
    response_class=Response,
    tags=["Networks"],
)
async def update_network(
    network_id: Id, data: schemas.NetworkUpdate, service: Service, principal: CurrentPrincipal,
    ip: ClientIP,
) -> Response:
    await service.update_network(principal, ip, network_id, data)
    return Response(status_code=204)


@router.delete(
    "/networks/{network_id:int}",
    operation_id="deleteNetwork",
    status_code=204,
    response_class=Response,
    tags=["Networks"],
)
async def delete_network(
    network_id: Id, service: Service, principal: CurrentPrincipal, ip: ClientIP
) -> Response:
    action_id = await service.delete_network(principal, ip, network_id)
    return no_content() if action_id is None else action_response(action_id)


@router.post(
    "/networks/{network_id:int}/get-status",
    operation_id="getStatusNetwork",
    status_code=204,
    response_class=Response,
    tags=["Networks"],
)
async def get_status_network(
    network_id: Id, service: Service, principal: CurrentPrincipal, ip: ClientIP
) -> Response:
    action_id = await service.network_status(principal, ip, network_id)
    return action_response(action_id)


@router.get(
    "/networks/{network_id:int}/subnets",
    operation_id="listNetworkSubnets",
    response_model=list[schemas.SubnetRelation],
    tags=["Networks - Subnets"],
)
async def list_network_subnets(
    network_id: Id, service: Service, principal: CurrentPrincipal, page: PageDep,
    region: Filter = None, zone: Filter = None,
) -> Sequence[Subnet]:
    return await service.list_network_subnets(principal, network_id, page, region, zone)


@router.post(
    "/networks/{network_id:int}/subnets",
    operation_id="addNetworkSubnet",
    status_code=201,
    response_model=schemas.Subnet,
    tags=["Networks - Subnets"],
)
async def add_network_subnet(
    network_id: Id, data: schemas.SubnetCreate, service: Service, principal: CurrentPrincipal,
    ip: ClientIP, response: Response,
) -> Subnet:
    subnet = await service.create_subnet(principal, ip, network_id, data)
    # The action that creates it at the provider.
    response.headers[ACTION_ID_HEADER] = str(service.last_action_id)
    return subnet


add_routes(router, Service, [
    Route("GET", "/subnets/{subnet_id:int}", "getSubnet", "get_subnet", schemas.Subnet,
          tags=("Subnets",)),
], {"subnet_id": Id})


@router.delete(
    "/subnets/{subnet_id:int}",
    operation_id="deleteSubnet",
    status_code=204,
    response_class=Response,
    tags=["Subnets"],
)
async def delete_subnet(
    subnet_id: Id, service: Service, principal: CurrentPrincipal, ip: ClientIP
) -> Response:
    action_id = await service.delete_subnet(principal, ip, subnet_id)
    return no_content() if action_id is None else action_response(action_id)

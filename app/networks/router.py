from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from app.access.routes import Route, add_routes, no_content, param
from app.core.deps import ClientIP, SessionDep, SettingsDep
from app.networks import schemas
from app.networks.service import NetworkService
from app.resources_common.operations import ACTION_ID_HEADER
from app.resources_common.router import action_response

router = APIRouter()

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Filter = Annotated[str | None, Query(max_length=64)]


async def get_service(session: SessionDep, settings: SettingsDep) -> NetworkService:
    return NetworkService(session, settings)


Service = Annotated[NetworkService, Depends(get_service)]


def _created_by_action(create: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A creation answered with the new record and, in a header, the action that creates it
    at the provider."""
    async def call(
        service: NetworkService, principal: Any, ip: str, data: Any, response: Response,
        **ids: int,
    ) -> Any:
        [parent_id] = ids.values()
        created = await create(service, principal, ip, parent_id, data)
        response.headers[ACTION_ID_HEADER] = str(service.last_action_id)
        return created
    return call


def _answered_by_action(
    start: Callable[..., Awaitable[int | None]],
) -> Callable[..., Awaitable[Response]]:
    """An operation answered with the action it started, or no content when none was
    needed (a record only the database held)."""
    async def call(service: NetworkService, principal: Any, ip: str, **ids: int) -> Response:
        [record_id] = ids.values()
        action_id = await start(service, principal, ip, record_id)
        return no_content() if action_id is None else action_response(action_id)
    return call


add_routes(router, Service, [
    Route("GET", "/environments/{environment_id:int}/networks", "listEnvironmentNetworks",
          lambda environment_id, service, principal, page, include_default_network,
          provider_name, region: service.list_networks(
              principal, environment_id, page, provider_name=provider_name, region=region,
              include_default=include_default_network),
          list[schemas.NetworkRelation], paged=True,
          extra=(param("include_default_network", bool, False),
                 param("provider_name", Filter, None), param("region", Filter, None)),
          tags=("Networks",)),
    Route("POST", "/environments/{environment_id:int}/networks", "addEnvironmentNetwork",
          _created_by_action(NetworkService.create_network), schemas.Network, 201,
          schemas.NetworkCreate,
          extra=(param("ip", ClientIP), param("response", Response)), tags=("Networks",)),
    Route("GET", "/environments/{environment_id:int}/subnets", "listEnvironmentSubnets",
          "list_environment_subnets", list[schemas.SubnetRelation], paged=True, tags=("Subnets",)),
    Route("GET", "/networks/{network_id:int}", "getNetwork", "get_network", schemas.Network,
          tags=("Networks",)),
    Route("PUT", "/networks/{network_id:int}", "updateNetwork",
          lambda network_id, data, service, principal, ip:
              service.update_network(principal, ip, network_id, data), None, 204,
          schemas.NetworkUpdate, extra=(param("ip", ClientIP),), tags=("Networks",)),
    Route("DELETE", "/networks/{network_id:int}", "deleteNetwork",
          _answered_by_action(NetworkService.delete_network), None, 204,
          extra=(param("ip", ClientIP),), tags=("Networks",)),
    Route("POST", "/networks/{network_id:int}/get-status", "getStatusNetwork",
          _answered_by_action(NetworkService.network_status),
          None, 204, extra=(param("ip", ClientIP),), tags=("Networks",)),
    Route("GET", "/networks/{network_id:int}/subnets", "listNetworkSubnets", "list_network_subnets",
          list[schemas.SubnetRelation], paged=True,
          extra=(param("region", Filter, None), param("zone", Filter, None),),
          tags=("Networks - Subnets",)),
    Route("POST", "/networks/{network_id:int}/subnets", "addNetworkSubnet",
          _created_by_action(NetworkService.create_subnet),
          schemas.Subnet, 201, schemas.SubnetCreate,
          extra=(param("ip", ClientIP), param("response", Response)), tags=("Networks - Subnets",)),
    Route("GET", "/subnets/{subnet_id:int}", "getSubnet", "get_subnet", schemas.Subnet,
          tags=("Subnets",)),
    Route("DELETE", "/subnets/{subnet_id:int}", "deleteSubnet",
          _answered_by_action(NetworkService.delete_subnet), None, 204,
          extra=(param("ip", ClientIP),), tags=("Subnets",)),
], {"environment_id": Id, "network_id": Id, "subnet_id": Id})

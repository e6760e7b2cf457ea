"""Hetzner Cloud networks and their subnets (identified by IP range, placed in a network zone)."""

from __future__ import annotations

from collections.abc import Mapping

from hcloud import APIException, Client
from hcloud.networks import BoundNetwork, NetworkSubnet

from app.cloud.base import CloudError, NetworkProvider, NetworkRef, NetworkSpec, SubnetSpec
from app.cloud.hetzner.client import (
    DEFAULT_NETWORK_RANGE,
    _Hcloud,
    _is_missing,
    _labels,
    _Missing,
    network_zone,
)
from app.core.settings import Settings


def _network_ref(network: BoundNetwork) -> NetworkRef:
    model = network.data_model
    extra = {"ip_range": str(model.ip_range), "name": str(model.name)}
    if model.subnets:
        extra["subnets"] = ",".join(str(s.ip_range) for s in model.subnets)
    # A network exists fully as soon as the API returns it; Hetzner reports no state.
    return NetworkRef(id=str(model.id), status="available", provider_status="available",
                      extra=extra)


class HetznerNetworks(NetworkProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._api = _Hcloud(credential, settings)

    @staticmethod
    def _network(client: Client, network_id: str) -> BoundNetwork:
        try:
            return client.networks.get_by_id(int(network_id))
        except (ValueError, APIException) as exc:
            if isinstance(exc, APIException) and not _is_missing(exc):
                raise
            raise _Missing(f"Hetzner Cloud network {network_id} does not exist.") from exc

    async def create_network(self, spec: NetworkSpec) -> NetworkRef:
        return await self._api.run(lambda client: _network_ref(client.networks.create(
            name=spec.name, ip_range=spec.cidr_block or DEFAULT_NETWORK_RANGE,
            labels=_labels(spec.tags),
        )))

    async def get_network(self, network_id: str) -> NetworkRef:
        try:
            return await self._api.run(
                lambda client: _network_ref(self._network(client, network_id))
            )
        except _Missing as exc:
            raise CloudError(str(exc)) from exc

    async def delete_network(self, network_id: str) -> None:
        def work(client: Client) -> None:
            try:
                client.networks.delete(self._network(client, network_id))
            except APIException as exc:
                if not _is_missing(exc):
                    raise

        try:
            await self._api.run(work)
        except _Missing:
            return

    async def create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        zone = network_zone(spec.region)

        def work(client: Client) -> NetworkRef:
            network = self._network(client, spec.network_id)
            client.networks.add_subnet(network, NetworkSubnet(
                type=NetworkSubnet.TYPE_CLOUD, ip_range=spec.cidr_block, network_zone=zone,
            )).wait_until_finished()
            subnet = next((s for s in self._network(client, spec.network_id).subnets or []
                           if s.ip_range == spec.cidr_block), None)
            if subnet is None:
                raise CloudError(f"Hetzner Cloud did not add the subnet {spec.cidr_block}.")
            extra = {"network_id": spec.network_id, "network_zone": zone}
            if subnet.gateway:
                extra["gateway"] = str(subnet.gateway)
            return NetworkRef(id=spec.cidr_block, status="available",
                              provider_status="available", extra=extra)

        try:
            return await self._api.run(work)
        except _Missing as exc:
            raise CloudError(str(exc)) from exc

    async def delete_subnet(self, network_id: str, subnet_id: str) -> None:
        def work(client: Client) -> None:
            network = self._network(client, network_id)
            if not any(s.ip_range == subnet_id for s in network.subnets or []):
                return
            client.networks.delete_subnet(
                network, NetworkSubnet(ip_range=subnet_id)
            ).wait_until_finished()

        try:
            await self._api.run(work)
        except _Missing:
            return

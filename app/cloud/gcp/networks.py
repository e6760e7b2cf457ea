"""Google VPC networks (custom subnet mode) and their regional subnets."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Mapping

from google.cloud import compute_v1

from app.cloud.base import (
    CloudError,
    CredentialRejected,
    InstanceNotFound,
    NetworkProvider,
    NetworkRef,
    NetworkSpec,
    SubnetSpec,
)
from app.cloud.gcp.client import _Gcp, _last, _network_path, _split, resource_name
from app.core.settings import Settings


def _subnet_ref_from_url(url: str) -> tuple[str, str] | None:
    match = re.search(r"regions/([^/]+)/subnetworks/([^/]+)$", url)
    return (match.group(1), match.group(2)) if match else None


class GcpNetworks(NetworkProvider):
    """VPC networks in custom-subnet mode, and their regional subnetworks. GCE networks
    have no address range of their own (subnets do), so `cidr_block` of a network is
    not used; networks take no labels either."""

    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.gcp = _Gcp(credential, settings)

    @property
    def _networks(self) -> compute_v1.NetworksClient:
        return self.gcp.client(compute_v1.NetworksClient)

    @property
    def _subnets(self) -> compute_v1.SubnetworksClient:
        return self.gcp.client(compute_v1.SubnetworksClient)

    async def create_network(self, spec: NetworkSpec) -> NetworkRef:
        name = resource_name(spec.name)
        body = compute_v1.Network(
            name=name,
            auto_create_subnetworks=False,
            routing_config=compute_v1.NetworkRoutingConfig(routing_mode="REGIONAL"),
            description=_describe(spec.tags),
        )
        operation = await self.gcp.call(
            self._networks.insert_unary, project=self.gcp.project, network_resource=body
        )
        try:
            await self.gcp.wait(operation)
        except BaseException:
            await self._quiet(self.delete_network(name))
            raise
        return await self.get_network(name)

    async def get_network(self, network_id: str) -> NetworkRef:
        raw = await self.gcp.call(
            self._networks.get, project=self.gcp.project, network=_last(network_id)
        )
        return NetworkRef(
            id=raw.name, status="available", provider_status="READY",
            extra={"self_link": raw.self_link,
                   "subnetworks": ",".join(_last(s) for s in raw.subnetworks)},
        )

    async def delete_network(self, network_id: str) -> None:
        name = _last(network_id)
        try:
            raw = await self.gcp.call(
                self._networks.get, missing=InstanceNotFound,
                project=self.gcp.project, network=name,
            )
            # A network with subnetworks cannot be deleted: remove ours first.
            for url in raw.subnetworks:
                ref = _subnet_ref_from_url(url)
                if ref:
                    await self.delete_subnet(name, f"{ref[0]}/{ref[1]}")
            operation = await self.gcp.call(
                self._networks.delete_unary, missing=InstanceNotFound,
                project=self.gcp.project, network=name,
            )
            await self.gcp.wait(operation, missing=InstanceNotFound)
        except InstanceNotFound:
            return

    async def create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        name = resource_name(spec.name)
        body = compute_v1.Subnetwork(
            name=name,
            network=_network_path(spec.network_id),
            ip_cidr_range=spec.cidr_block,
            region=spec.region,
            description=_describe(spec.tags),
        )
        operation = await self.gcp.call(
            self._subnets.insert_unary,
            project=self.gcp.project, region=spec.region, subnetwork_resource=body,
        )
        subnet_id = f"{spec.region}/{name}"
        try:
            await self.gcp.wait(operation)
            raw = await self.gcp.call(
                self._subnets.get, project=self.gcp.project, region=spec.region, subnetwork=name
            )
        except BaseException:
            await self._quiet(self.delete_subnet(spec.network_id, subnet_id))
            raise
        return NetworkRef(
            id=subnet_id, status="available", provider_status=raw.state or "READY",
            extra={"cidr_block": raw.ip_cidr_range, "network": _last(raw.network),
                   "gateway": raw.gateway_address},
        )

    async def delete_subnet(self, network_id: str, subnet_id: str) -> None:
        region, name = _split(subnet_id, "subnet")
        try:
            operation = await self.gcp.call(
                self._subnets.delete_unary, missing=InstanceNotFound,
                project=self.gcp.project, region=region, subnetwork=name,
            )
            await self.gcp.wait(operation, missing=InstanceNotFound)
        except InstanceNotFound:
            return

    @staticmethod
    async def _quiet(cleanup: Awaitable[None]) -> None:
        # The original error is what the caller needs; a cleanup error would hide it.
        with contextlib.suppress(CloudError, CredentialRejected):
            await cleanup


def _describe(tags: Mapping[str, str]) -> str:
    """Networks take no labels: the tags go in the description instead."""
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))[:2048]

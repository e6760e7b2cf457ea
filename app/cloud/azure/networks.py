"""Azure virtual networks and their subnets, each network in its own resource group."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from azure.mgmt.network import models as network_models
from azure.mgmt.resource.resources import models as resource_models

from app.cloud.azure.client import (
    NETWORK_GROUP_PREFIX,
    _Azure,
    _tags,
    group_and_name,
    parse_id,
    resource_name,
)
from app.cloud.base import (
    CloudError,
    CredentialRejected,
    InstanceNotFound,
    NetworkProvider,
    NetworkRef,
    NetworkSpec,
    SubnetSpec,
)
from app.core.settings import Settings


class AzureNetworks(NetworkProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.azure = _Azure(credential, settings)

    @staticmethod
    def _vnet(network_id: str) -> tuple[str, str]:
        return group_and_name(network_id, "virtualnetworks", "virtual network")

    async def create_network(self, spec: NetworkSpec) -> NetworkRef:
        az = self.azure
        name = resource_name(spec.name)
        group = resource_name(f"{NETWORK_GROUP_PREFIX}{name}", 90)
        if await az.group_exists(group):
            raise CloudError(f"The Azure resource group {group} already exists.")
        tags = _tags(spec.tags)
        await az.call(az.resources.resource_groups.create_or_update, group,
                      resource_models.ResourceGroup({"location": spec.region, "tags": tags}))
        try:
            vnet = await az.run(
                az.network.virtual_networks.begin_create_or_update, group, name,
                network_models.VirtualNetwork({
                    "location": spec.region, "tags": tags,
                    "properties": {"addressSpace": {
                        "addressPrefixes": [spec.cidr_block or "10.0.0.0/16"]}},
                }),
            )
        except BaseException:
            with contextlib.suppress(CloudError, CredentialRejected):
                await az.delete_group(group)
            raise
        return self._ref(vnet.id or "", vnet.provisioning_state,
                         {"resource_group": group, "name": name})

    @staticmethod
    def _ref(resource_id: str, state: Any, extra: Mapping[str, str]) -> NetworkRef:
        provider_status = str(getattr(state, "value", state) or "")  # str enums or str
        status = {"succeeded": "available", "deleting": "deleted"}.get(
            provider_status.lower(), "pending")
        return NetworkRef(id=resource_id, status=status, provider_status=provider_status,
                          extra=dict(extra))

    async def get_network(self, network_id: str) -> NetworkRef:
        group, name = self._vnet(network_id)
        az = self.azure
        vnet = await az.call(az.network.virtual_networks.get, group, name)
        space = vnet.address_space.address_prefixes if vnet.address_space else None
        subnets = ",".join(s.name or "" for s in (vnet.subnets or []))
        return self._ref(vnet.id or network_id, vnet.provisioning_state, {
            "resource_group": group, "name": name, "cidr_block": ",".join(space or []),
            "subnets": subnets,
        })

    async def delete_network(self, network_id: str) -> None:
        group, name = self._vnet(network_id)
        az = self.azure
        if group.startswith(NETWORK_GROUP_PREFIX):
            await az.delete_group(group)  # ours: the group holds this network only
            return
        with contextlib.suppress(InstanceNotFound):
            await az.run(az.network.virtual_networks.begin_delete, group, name,
                         missing=InstanceNotFound)

    async def create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        group, vnet = self._vnet(spec.network_id)
        az = self.azure
        name = resource_name(spec.name, 80)
        subnet = await az.run(
            az.network.subnets.begin_create_or_update, group, vnet, name,
            network_models.Subnet({"properties": {"addressPrefix": spec.cidr_block}}),
        )
        return self._ref(subnet.id or f"{spec.network_id}/subnets/{name}",
                         subnet.provisioning_state,
                         {"cidr_block": subnet.address_prefix or spec.cidr_block, "name": name})

    async def delete_subnet(self, network_id: str, subnet_id: str) -> None:
        parts = parse_id(subnet_id)
        group, vnet, name = (parts.get("resourcegroups"), parts.get("virtualnetworks"),
                             parts.get("subnets"))
        if not group or not vnet or not name:
            raise CloudError(f"{subnet_id!r} is not an Azure subnet id.")
        az = self.azure
        with contextlib.suppress(InstanceNotFound):
            await az.run(az.network.subnets.begin_delete, group, vnet, name,
                         missing=InstanceNotFound)

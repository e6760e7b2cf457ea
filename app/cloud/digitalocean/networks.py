"""DigitalOcean VPCs (which have no subnets)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.cloud.base import CloudError, NetworkProvider, NetworkRef, NetworkSpec, SubnetSpec
from app.cloud.digitalocean.client import _Api, _Missing
from app.core.settings import Settings


def _network(vpc: Mapping[str, Any]) -> NetworkRef:
    extra = {k: str(vpc[k]) for k in ("ip_range", "region", "urn", "name") if vpc.get(k)}
    # A VPC exists fully as soon as the API returns it; DigitalOcean reports no state.
    return NetworkRef(id=str(vpc["id"]), status="available", provider_status="active",
                      extra=extra)


class DigitalOceanNetworks(NetworkProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._api = _Api(credential, settings)

    async def create_network(self, spec: NetworkSpec) -> NetworkRef:
        body: dict[str, Any] = {
            # Names allow letters, digits, dashes and periods.
            "name": re.sub(r"[^A-Za-z0-9.-]", "-", spec.name)[:255],
            "region": spec.region,
        }
        if spec.cidr_block:
            body["ip_range"] = spec.cidr_block
        if spec.tags:
            body["description"] = " ".join(f"{k}={v}" for k, v in spec.tags.items())[:255]
        return _network(await self._api.one("POST", "/vpcs", "vpc", body=body))

    async def get_network(self, network_id: str) -> NetworkRef:
        try:
            return _network(await self._api.one("GET", f"/vpcs/{network_id}", "vpc"))
        except _Missing as exc:
            raise CloudError(f"DigitalOcean VPC {network_id} does not exist.") from exc

    async def delete_network(self, network_id: str) -> None:
        try:
            await self._api.call("DELETE", f"/vpcs/{network_id}")
        except _Missing:
            return

    async def create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        raise CloudError("DigitalOcean VPCs have no subnets; a droplet joins the VPC itself.")

    async def delete_subnet(self, network_id: str, subnet_id: str) -> None:
        # Nothing to delete: no subnet can have been created on DigitalOcean.
        return None

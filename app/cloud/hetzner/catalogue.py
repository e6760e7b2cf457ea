"""What a Hetzner Cloud project can order: locations, server types and their prices.

Catalogue (`HetznerCatalogue`): locations (regions, named by city and country; Hetzner
has no zones since datacenters were retired from the API) and server types, each listed
with `get_all`. A server type is offered in a location where it has a price and its
per-location entry is neither deprecated nor unavailable (Hetzner stops selling a type
location by location). Prices are the net (pre-VAT) euros Hetzner quotes, as the other
clouds quote theirs before tax.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hcloud import Client
from hcloud.server_types import ServerType

from app.cloud.base import CatalogueProvider, InstanceTypeInfo, Price, RegionInfo
from app.cloud.hetzner.client import _Hcloud
from app.core.settings import Settings

_ARCHITECTURES = {"x86": "x86_64", "arm": "arm64"}
_CPU_TYPES = {"shared": "Shared vCPU", "dedicated": "Dedicated vCPU"}


def _server_type_info(server_type: ServerType, wanted: set[str]) -> InstanceTypeInfo | None:
    unavailable = {
        str(loc.location.name) for loc in server_type.locations or []
        if loc.location is not None and (loc.deprecation is not None or loc.available is False)
    }
    offered: dict[str, Price | None] = {}
    for price in server_type.prices or []:
        location = str(price.get("location", ""))
        if location not in wanted or location in unavailable:
            continue
        try:
            offered[location] = Price(
                hourly=float(price["price_hourly"]["net"]),
                monthly=float(price["price_monthly"]["net"]), currency="EUR",
            )
        except (KeyError, TypeError, ValueError):
            offered[location] = None
    if not offered:
        return None
    family = _CPU_TYPES.get(str(server_type.cpu_type), "Server")
    if server_type.category:
        family = f"{family} ({server_type.category})"
    return InstanceTypeInfo(
        type=str(server_type.name),
        family=family,
        architecture=_ARCHITECTURES.get(str(server_type.architecture)),
        vcpus=int(server_type.cores or 0),
        memory_mb=round(float(server_type.memory or 0) * 1024),
        default_disk_size_gb=int(server_type.disk or 0),
        regions=dict(sorted(offered.items())),
    )


class HetznerCatalogue(CatalogueProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._api = _Hcloud(credential, settings)

    async def list_regions(self) -> list[RegionInfo]:
        def read(client: Client) -> list[RegionInfo]:
            regions = []
            for location in client.locations.get_all():
                code = str(location.name)
                place = ", ".join(str(p) for p in (location.city, location.country) if p)
                regions.append(RegionInfo(code=code, name=place or code))
            return regions

        return await self._api.run(read)

    async def list_instance_types(self, regions: Sequence[str]) -> list[InstanceTypeInfo]:
        wanted = set(regions)

        def read(client: Client) -> list[InstanceTypeInfo]:
            infos = (_server_type_info(t, wanted) for t in client.server_types.get_all())
            return [info for info in infos if info is not None]

        return await self._api.run(read)

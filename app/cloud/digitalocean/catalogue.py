"""What a DigitalOcean account can order: regions, sizes and their prices.

Catalogue (`DigitalOceanCatalogue`): `GET /regions` and `GET /sizes`, both paged (200 a
page). A size lists the regions that sell it and one price for all of them; sizes or
regions DigitalOcean marks unavailable are left out. DigitalOcean has no zones and no
Arm droplets (every size is x86_64).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.cloud.base import CatalogueProvider, CloudError, InstanceTypeInfo, Price, RegionInfo
from app.cloud.digitalocean.client import _Api
from app.core.settings import Settings


class DigitalOceanCatalogue(CatalogueProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._api = _Api(credential, settings)

    async def list_regions(self) -> list[RegionInfo]:
        return [
            RegionInfo(code=str(r["slug"]), name=str(r.get("name") or r["slug"]))
            for r in await self._api.every("/regions", "regions")
            if r.get("slug") and r.get("available", True)
        ]

    async def list_instance_types(self, regions: Sequence[str]) -> list[InstanceTypeInfo]:
        wanted = set(regions)
        found = []
        for size in await self._api.every("/sizes", "sizes"):
            offered = wanted.intersection(size.get("regions") or [])
            if not size.get("available", True) or not offered:
                continue
            try:
                price = Price(hourly=float(size["price_hourly"]),
                              monthly=float(size["price_monthly"]), currency="USD")
                found.append(InstanceTypeInfo(
                    type=str(size["slug"]),
                    family=str(size.get("description") or "Droplet"),
                    architecture="x86_64",
                    vcpus=int(size["vcpus"]),
                    memory_mb=int(size["memory"]),
                    default_disk_size_gb=int(size["disk"]),
                    regions=dict.fromkeys(sorted(offered), price),
                ))
            except (KeyError, TypeError, ValueError) as exc:
                raise CloudError(
                    f"DigitalOcean described the size {size.get('slug')!r} without {exc}."
                ) from exc
        return found

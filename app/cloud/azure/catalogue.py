"""What an Azure subscription can order: locations, zones, VM sizes and their pay-as-you-go
Linux prices."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx
from azure.mgmt.compute.models import ResourceSku
from azure.mgmt.resource.subscriptions.models import Location

from app.cloud.azure.client import (
    _ARCHITECTURES,
    _ARM_SIZE,
    _PRICE_FILTER,
    _UNAVAILABLE,
    DEFAULT_OS_DISK_GB,
    PRICE_CONCURRENCY,
    PRICE_RETRIES,
    _Azure,
)
from app.cloud.base import (
    HOURS_PER_MONTH,
    CatalogueProvider,
    CloudError,
    InstanceTypeInfo,
    Price,
    RegionInfo,
)
from app.core.settings import Settings


def _capabilities(sku: ResourceSku) -> dict[str, str]:
    return {c.name: c.value for c in sku.capabilities or [] if c.name and c.value is not None}


def _bootable(name: str, caps: Mapping[str, str]) -> bool:
    """Whether our Ubuntu images boot on the size, as far as its capabilities tell."""
    generations = caps.get("HyperVGenerations")
    if generations is not None and "V2" not in generations.split(","):
        return False
    if caps.get("ConfidentialComputingType") in {"SNP", "TDX"}:
        return False
    architecture = _ARCHITECTURES.get(caps.get("CpuArchitectureType", "").lower())
    return architecture is None or (architecture == "arm64") == bool(_ARM_SIZE.match(name))


def _offered_in(sku: ResourceSku) -> set[str]:
    """Lowercased regions where this subscription can order the size."""
    where = {loc.lower() for loc in sku.locations or []}
    where |= {i.location.lower() for i in sku.location_info or [] if i.location}
    for restriction in sku.restrictions or []:
        if restriction.type != "Location" or restriction.reason_code not in _UNAVAILABLE:
            continue
        info = restriction.restriction_info
        blocked = (info.locations if info is not None else None) or restriction.values_property
        where -= {loc.lower() for loc in blocked or []}
    return where


def _sku_zones(skus: Iterable[ResourceSku]) -> dict[str, set[str]]:
    zones: dict[str, set[str]] = {}
    for sku in skus:
        if sku.resource_type != "virtualMachines":
            continue
        for info in sku.location_info or []:
            if info.location:
                zones.setdefault(info.location.lower(), set()).update(info.zones or [])
    return zones


def _size(sku: ResourceSku, caps: Mapping[str, str]) -> tuple[int, int] | None:
    """(vCPUs, memory MB), None when the capabilities do not say."""
    try:
        vcpus = int(caps.get("vCPUsAvailable") or caps["vCPUs"])
        memory_mb = round(float(caps["MemoryGB"]) * 1024)
    except (KeyError, ValueError):
        return None
    return vcpus, memory_mb


def _linux_price(item: Any) -> tuple[str, bool, Price] | None:
    """(size, primary meter, price) of a Retail Prices item for pay-as-you-go Linux."""
    if not isinstance(item, dict):
        return None
    size, product, sku = item.get("armSkuName"), item.get("productName") or "", \
        item.get("skuName") or ""
    if (not size or "Windows" in product or "Spot" in sku or "Low Priority" in sku
            or item.get("unitOfMeasure") != "1 Hour"):
        return None
    try:
        hourly = float(item["retailPrice"])
    except (KeyError, TypeError, ValueError):
        return None
    price = Price(hourly=hourly, monthly=round(hourly * HOURS_PER_MONTH, 4),
                  currency=str(item.get("currencyCode") or "USD"))
    return str(size), item.get("isPrimaryMeterRegion") is not False, price


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.0), 30.0)
    except ValueError:
        return 1.0


class AzureCatalogue(CatalogueProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.azure = _Azure(credential, settings)
        self._settings = settings
        # Every region's SKUs once listed: list_regions and list_instance_types share them.
        self._all_skus: list[ResourceSku] | None = None

    async def _skus(self, location: str | None = None) -> list[ResourceSku]:
        if self._all_skus is not None:
            return self._all_skus
        az = self.azure
        skus: list[ResourceSku] = await az.call(list, az.compute.resource_skus.list(
            filter=f"location eq '{location}'" if location else None))
        if location is None:
            self._all_skus = skus
        return skus

    async def list_regions(self) -> list[RegionInfo]:
        az = self.azure
        locations: list[Location] = await az.call(
            list, az.subscriptions.subscriptions.list_locations(az.subscription_id))
        regions = [
            (loc.name, loc.display_name or loc.name,
             {m.logical_zone for m in loc.availability_zone_mappings or [] if m.logical_zone})
            for loc in locations
            if loc.name and loc.metadata is not None and loc.metadata.region_type == "Physical"
        ]
        if not all(zones for _, _, zones in regions):
            # Mappings are not given for every region; the VM sizes there name their zones.
            sku_zones = _sku_zones(await self._skus())
            for code, _, zones in regions:
                if not zones:
                    zones.update(sku_zones.get(code.lower(), ()))
        return [RegionInfo(code=code, name=name, zones=tuple(sorted(zones)))
                for code, name, zones in regions]

    async def list_instance_types(self, regions: Sequence[str]) -> list[InstanceTypeInfo]:
        wanted = {r.lower(): r for r in regions}
        if not wanted:
            return []
        # One call either way: filtered for a single region, else the whole (shared) list.
        skus = await self._skus(next(iter(wanted)) if len(wanted) == 1 else None)
        found: dict[str, tuple[ResourceSku, dict[str, str], tuple[int, int], set[str]]] = {}
        for sku in skus:
            if sku.resource_type != "virtualMachines" or not sku.name:
                continue
            caps = _capabilities(sku)
            offered = _offered_in(sku) & wanted.keys()
            size = _size(sku, caps)
            if not offered or size is None or not _bootable(sku.name, caps):
                continue
            # Azure answers one entry per size and location: merge them.
            if sku.name in found:
                found[sku.name][3].update(offered)
            else:
                found[sku.name] = (sku, caps, size, offered)
        prices = await self._prices(sorted({r for *_, where in found.values() for r in where}))
        types: list[InstanceTypeInfo] = []
        for name, (sku, caps, (vcpus, memory_mb), where) in sorted(found.items()):
            types.append(InstanceTypeInfo(
                type=name,
                family=sku.family or "",
                architecture=_ARCHITECTURES.get(caps.get("CpuArchitectureType", "").lower()),
                vcpus=vcpus,
                memory_mb=memory_mb,
                default_disk_size_gb=DEFAULT_OS_DISK_GB,
                regions={wanted[r]: prices[r].get(name) for r in sorted(where)},
            ))
        return types

    async def _prices(self, regions: Sequence[str]) -> dict[str, dict[str, Price]]:
        """Region -> size -> on-demand Linux price, from the public Retail Prices API."""
        bound = asyncio.Semaphore(PRICE_CONCURRENCY)
        # No credential here: the API is public, and ours must not leave Azure's ARM.
        async with httpx.AsyncClient(timeout=self._settings.provider_timeout_seconds,
                                     headers={"User-Agent": "devopness-server"}) as http:
            async def one(region: str) -> dict[str, Price]:
                async with bound:
                    return await self._region_prices(http, region)

            try:
                async with asyncio.TaskGroup() as group:
                    tasks = {r: group.create_task(one(r)) for r in regions}
            except* CloudError as failed:
                raise failed.exceptions[0] from None
        return {r: task.result() for r, task in tasks.items()}

    async def _region_prices(self, http: httpx.AsyncClient, region: str) -> dict[str, Price]:
        url: str | None = self._settings.azure_prices_url
        params: dict[str, str] | None = {"$filter": _PRICE_FILTER.format(region=region)}
        found: dict[str, tuple[bool, Price]] = {}
        while url:
            page = await self._price_page(http, url, params)
            for item in page.get("Items") or []:
                parsed = _linux_price(item)
                if parsed is None:
                    continue
                size, primary, price = parsed
                # Some sizes carry a second meter billed from another region: prefer the
                # region's own.
                if size not in found or (primary and not found[size][0]):
                    found[size] = (primary, price)
            next_link = page.get("NextPageLink")
            url, params = (str(next_link), None) if next_link else (None, None)
        return {size: price for size, (_, price) in found.items()}

    @staticmethod
    async def _price_page(
        http: httpx.AsyncClient, url: str, params: Mapping[str, str] | None
    ) -> dict[str, Any]:
        for attempt in range(PRICE_RETRIES + 1):
            try:
                response = await http.get(url, params=params)
            except httpx.HTTPError as exc:
                raise CloudError(f"The Azure Retail Prices API could not be reached: {exc}") \
                    from exc
            if response.status_code != 429 or attempt == PRICE_RETRIES:
                break
            await asyncio.sleep(_retry_after(response))
        if response.status_code != 200:
            raise CloudError(f"The Azure Retail Prices API answered {response.status_code}: "
                             f"{response.text[:300]}")
        try:
            page = response.json()
        except ValueError as exc:
            raise CloudError("The Azure Retail Prices API answered something other than "
                             "JSON.") from exc
        if not isinstance(page, dict):
            raise CloudError("The Azure Retail Prices API answered an unexpected page.")
        return page

"""What a Google Cloud project can order: regions, zones, machine types and their on-demand
prices from the Cloud Billing Catalog.

Catalogue (`GcpCatalogue`): regions come from `regions.list`, machine types from one
paginated `machineTypes.aggregatedList` filtered to the zones of the asked regions (a type
is offered in a region when any of its zones lists it), and prices from the Cloud Billing
Catalog API's SKU list for Compute Engine (`services/6F81-5844-456A/skus`, paginated;
the client library has no call for it). GCE bills a machine type as its family's
per-vCPU and per-GiB on-demand SKUs of the region, so a price is composed from those;
f1-micro and g1-small have a SKU of their own, and the E2 shared-core types bill a
fraction of a vCPU. Left out: types with accelerators (GPU and TPU families, which need
their own images and quotas) and deprecated types. A price is None where the SKUs of the
family are missing or ambiguous, for shared-core types we do not know the fraction of,
and for types with bundled local SSD (billed by other SKUs).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import compute_v1

from app.cloud.base import (
    HOURS_PER_MONTH,
    CatalogueProvider,
    CloudError,
    InstanceTypeInfo,
    Price,
    RegionInfo,
)
from app.cloud.gcp.client import _ARM_MACHINE_PREFIXES, BILLING_SCOPE, _Gcp, _last
from app.core.settings import Settings

# ---------------------------------------------------------------------- catalogue

# The Cloud Billing Catalog's id of the Compute Engine service.
COMPUTE_ENGINE_SERVICE = "6F81-5844-456A"
# Our create sizes the boot disk from the request; the catalogue offers the smallest disk
# the Ubuntu images fit (the storage minimum of gcp-gce.json).
DEFAULT_DISK_SIZE_GB = 10
# The aggregated list's page (the API's maximum) and the SKU list's (the Billing API's).
_MACHINE_TYPE_PAGE = 500
_SKU_PAGE = 5000
# GPU families whose types may carry their GPUs without listing them as accelerators.
_GPU_FAMILIES = {"a2", "a3", "a4", "a4x", "g2", "g4"}
_RETIRED = {"DEPRECATED", "OBSOLETE", "DELETED"}
# E2 shared-core types bill this fraction of an E2 vCPU (the API reports 2 vCPUs, what
# they may burst to).
_E2_SHARED_VCPUS = {"e2-micro": 0.25, "e2-small": 0.5, "e2-medium": 1.0}
# f1-micro and g1-small are billed per instance hour by a SKU of their own.
_INSTANCE_SKU_GROUPS = {"F1Micro": "f1-micro", "G1Small": "g1-small"}
# "<FAMILY> [qualifier] Instance Core|Ram running in <region group>": the on-demand SKUs
# of predefined types. Custom, sole-tenant, spot and commitment SKUs name something else
# before "Instance" and do not match.
_SKU_DESCRIPTION = re.compile(
    r"^(?P<family>[A-Z][A-Z0-9]*[0-9][A-Z0-9]*)"
    r"(?: (?:Predefined|AMD|Arm|Intel|Memory-optimized))? Instance (?P<kind>Core|Ram) running in ",
    re.IGNORECASE,
)
# Families whose SKUs predate the "<FAMILY> Instance" naming.
_SKU_ALIASES = {
    "Compute optimized Core running in ": ("C2", "Core"),
    "Compute optimized Ram running in ": ("C2", "Ram"),
    "Memory-optimized Instance Core running in ": ("M1", "Core"),
    "Memory-optimized Instance Ram running in ": ("M1", "Ram"),
}
# The unit a Core SKU and a Ram SKU are priced in; another unit is one we cannot compose.
_SKU_UNITS = {"Core": "h", "Ram": "GiBy.h"}
_REGION_CODE = re.compile(r"^[a-z0-9-]+$")


def _retired(raw: compute_v1.Region | compute_v1.MachineType) -> bool:
    return "deprecated" in raw and raw.deprecated.state in _RETIRED


def _family(machine_type: str) -> str:
    return machine_type.split("-", 1)[0]


def _architecture(raw: compute_v1.MachineType) -> str:
    if raw.architecture == "ARM64":
        return "arm64"
    if raw.architecture == "X86_64":
        return "x86_64"
    # Older answers leave the field out.
    return "arm64" if raw.name.startswith(_ARM_MACHINE_PREFIXES) else "x86_64"


def _sku_kind(description: str) -> tuple[str, str] | None:
    """(family upper-cased, "Core" or "Ram") of a predefined type's on-demand SKU."""
    match = _SKU_DESCRIPTION.match(description)
    if match:
        return match["family"].upper(), match["kind"].capitalize()
    for prefix, kind in _SKU_ALIASES.items():
        if description.startswith(prefix):
            return kind
    return None


def _unit_price(sku: Mapping[str, Any]) -> tuple[float, str, str] | None:
    """(price per usage unit, currency, usage unit) of the SKU's current pricing."""
    infos = sku.get("pricingInfo") or []
    if not infos:
        return None
    expression = infos[-1].get("pricingExpression") or {}
    rates = sorted(expression.get("tieredRates") or [],
                   key=lambda rate: float(rate.get("startUsageAmount") or 0))
    if not rates:
        return None
    # The last tier is what usage past any free allowance costs; on-demand instance SKUs
    # have a single tier anyway.
    price = rates[-1].get("unitPrice") or {}
    amount = int(price.get("units") or 0) + int(price.get("nanos") or 0) / 1e9
    return amount, str(price.get("currencyCode") or "USD"), str(expression.get("usageUnit", ""))


@dataclass
class _PriceBook:
    """Unit prices by (family or type, region) read from the SKU list."""

    units: dict[tuple[str, str, str], tuple[float, str]] = field(default_factory=dict)
    ambiguous: set[tuple[str, str, str]] = field(default_factory=set)

    @classmethod
    def of(cls, skus: Iterable[Mapping[str, Any]]) -> _PriceBook:
        book = cls()
        for sku in skus:
            category = sku.get("category") or {}
            if category.get("resourceFamily") != "Compute":
                continue
            if category.get("usageType") != "OnDemand":
                continue
            priced = _unit_price(sku)
            if priced is None:
                continue
            amount, currency, unit = priced
            instance = _INSTANCE_SKU_GROUPS.get(str(category.get("resourceGroup", "")))
            if instance is not None:
                key_of: tuple[str, str] | None = (instance, "Instance")
                expected = "h"
            else:
                key_of = _sku_kind(str(sku.get("description", "")))
                expected = _SKU_UNITS[key_of[1]] if key_of else ""
            if key_of is None or unit != expected:
                continue
            for region in sku.get("serviceRegions") or []:
                book.add((key_of[0], key_of[1], str(region)), amount, currency)
        return book

    def add(self, key: tuple[str, str, str], amount: float, currency: str) -> None:
        known = self.units.setdefault(key, (amount, currency))
        if known != (amount, currency):
            # Two SKUs claim the same component: guessing would misprice.
            self.ambiguous.add(key)

    def _get(self, name: str, kind: str, region: str) -> tuple[float, str] | None:
        key = (name, kind, region)
        return None if key in self.ambiguous else self.units.get(key)

    def price(self, shape: _Shape, region: str) -> Price | None:
        whole = self._get(shape.type, "Instance", region)
        if whole is not None:
            return _price(whole[0], whole[1])
        if shape.local_ssd:
            return None
        vcpus: float = shape.vcpus
        if shape.shared:
            if shape.type not in _E2_SHARED_VCPUS:
                return None
            vcpus = _E2_SHARED_VCPUS[shape.type]
        family = shape.family.upper()
        core = self._get(family, "Core", region)
        ram = self._get(family, "Ram", region)
        if core is None or ram is None or core[1] != ram[1]:
            return None
        return _price(core[0] * vcpus + ram[0] * shape.memory_mb / 1024, core[1])


def _price(hourly: float, currency: str) -> Price:
    return Price(hourly=round(hourly, 6), monthly=round(hourly * HOURS_PER_MONTH, 4),
                 currency=currency)


@dataclass
class _Shape:
    type: str
    family: str
    architecture: str
    vcpus: int
    memory_mb: int
    shared: bool
    local_ssd: bool
    regions: set[str] = field(default_factory=set)


def _offered(raw: compute_v1.MachineType) -> bool:
    if raw.accelerators or _family(raw.name) in _GPU_FAMILIES:
        return False
    return not _retired(raw)


class GcpCatalogue(CatalogueProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.gcp = _Gcp(credential, settings)
        self._skus_url = (
            f"{settings.gcp_billing_url.rstrip('/')}/services/{COMPUTE_ENGINE_SERVICE}/skus"
        )

    async def list_regions(self) -> list[RegionInfo]:
        client = self.gcp.client(compute_v1.RegionsClient)

        def fetch(timeout: float, project: str) -> list[compute_v1.Region]:
            return list(client.list(project=project, timeout=timeout))

        regions = await self.gcp.call(fetch, project=self.gcp.project)
        return [
            RegionInfo(
                code=raw.name,
                # The API's description is usually the code itself.
                name=raw.description if raw.description and raw.description != raw.name
                else raw.name,
                zones=tuple(sorted(_last(zone) for zone in raw.zones)),
            )
            for raw in regions
            if not _retired(raw)
        ]

    async def list_instance_types(self, regions: Sequence[str]) -> list[InstanceTypeInfo]:
        asked = sorted({r for r in regions if _REGION_CODE.match(r)})
        if not asked:
            return []
        shapes, skus = await asyncio.gather(
            self.gcp.call(self._machine_types, project=self.gcp.project, regions=asked),
            self.gcp.call(self._skus),
        )
        book = _PriceBook.of(skus)
        return [
            InstanceTypeInfo(
                type=shape.type,
                family=shape.family.upper(),
                architecture=shape.architecture,
                vcpus=shape.vcpus,
                memory_mb=shape.memory_mb,
                default_disk_size_gb=DEFAULT_DISK_SIZE_GB,
                regions={region: book.price(shape, region) for region in sorted(shape.regions)},
            )
            for shape in sorted(shapes, key=lambda s: (s.family, s.vcpus, s.memory_mb, s.type))
        ]

    def _machine_types(self, timeout: float, project: str, regions: list[str]) -> list[_Shape]:
        """Every offered type of the regions' zones, from one aggregated listing (blocking)."""
        client = self.gcp.client(compute_v1.MachineTypesClient)
        wanted = set(regions)
        request = compute_v1.AggregatedListMachineTypesRequest(
            project=project,
            max_results=_MACHINE_TYPE_PAGE,
            # A regular-expression filter (RE2, matching the whole field) on the zone name
            # keeps the other regions' zones out of the pages.
            filter=f'zone eq "({"|".join(regions)})-[a-z0-9]+"',
        )
        shapes: dict[str, _Shape] = {}
        for scope, listed in client.aggregated_list(request=request, timeout=timeout):
            region = _last(scope).rsplit("-", 1)[0]
            if region not in wanted:
                continue
            for raw in listed.machine_types:
                if not _offered(raw):
                    continue
                shape = shapes.get(raw.name)
                if shape is None:
                    shape = shapes[raw.name] = _Shape(
                        type=raw.name,
                        family=_family(raw.name),
                        architecture=_architecture(raw),
                        vcpus=raw.guest_cpus,
                        memory_mb=raw.memory_mb,
                        shared=raw.is_shared_cpu,
                        local_ssd=bool(raw.bundled_local_ssds.partition_count)
                        if "bundled_local_ssds" in raw else False,
                    )
                shape.regions.add(region)
        return list(shapes.values())

    def _skus(self, timeout: float) -> list[dict[str, Any]]:
        """Compute Engine's on-demand compute SKUs, every page (blocking)."""
        params = {"currencyCode": "USD", "pageSize": str(_SKU_PAGE)}
        skus: list[dict[str, Any]] = []
        seen: set[str] = set()
        with self.gcp.session(BILLING_SCOPE) as session:
            while True:
                response = session.get(self._skus_url, params=params, timeout=timeout)
                if response.status_code >= 400:
                    raise gexc.from_http_response(response)  # type: ignore[no-untyped-call]
                body = response.json()
                skus.extend(
                    sku for sku in body.get("skus") or []
                    if (sku.get("category") or {}).get("resourceFamily") == "Compute"
                )
                token = body.get("nextPageToken")
                if not token:
                    return skus
                if token in seen:
                    raise CloudError("The Cloud Billing Catalog API repeated a page token.")
                seen.add(token)
                params["pageToken"] = token

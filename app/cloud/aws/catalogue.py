"""What an AWS account can order: regions, zones, instance types and their on-demand prices.

Catalogue (`AwsCatalogue`). Regions: EC2 DescribeRegions (the account's enabled regions),
DescribeAvailabilityZones per region (available zones of type availability-zone: local and
wavelength zones are left out), and the names from SSM's public parameters
`/aws/service/global-infrastructure/regions/<code>/longName` (GetParameters, ten at a time);
a key not allowed to read them gets the codes as names. Instance types: what each asked
region offers (DescribeInstanceTypeOfferings), the specs from DescribeInstanceTypes listed
once in the first region and, for types only other regions offer, looked up by name there.
Left out: previous generations, types not sold on demand, bare metal (`*.metal*`, sold to
run hypervisors, not an Ubuntu server) and i386-only types (no Ubuntu image). Prices: the
Price List Query API (`pricing` GetProducts, in us-east-1 unless
`aws_pricing_endpoint_url` says otherwise: not the EC2 endpoint), one paginated query per
region for on-demand Linux, shared tenancy, no pre-installed software; a type offered where
that list has no price gets None. `default_disk_size_gb` is 8: the root volume of
Canonical's Ubuntu AMIs, the smallest disk a server can be created with.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from app.cloud.aws.client import T, _Aws, _aws_message
from app.cloud.base import (
    HOURS_PER_MONTH,
    CatalogueProvider,
    CloudError,
    InstanceTypeInfo,
    Price,
    RegionInfo,
)

logger = logging.getLogger(__name__)


# What a server can be created as: sold on demand, current generation, a virtual machine
# (bare metal is for running hypervisors). The architecture is checked on our side
# (`_architecture_of`): types that run i386 and x86_64 are x86_64 servers.
_TYPE_FILTERS = [
    {"Name": "current-generation", "Values": ["true"]},
    {"Name": "supported-usage-class", "Values": ["on-demand"]},
    {"Name": "bare-metal", "Values": ["false"]},
]
# The Price List attributes of the price a server is billed at: on-demand Linux on shared
# hardware, no SQL Server or the like pre-installed, for a running instance ("Used", not
# an idle capacity reservation).
_PRICE_FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
    "marketoption": "OnDemand",
}
_REGION_NAME = "/aws/service/global-infrastructure/regions/{}/longName"
_SSM_BATCH = 10  # GetParameters takes at most ten names
_TYPES_BATCH = 100  # DescribeInstanceTypes takes at most a hundred names


def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _architecture_of(described: Mapping[str, Any]) -> str | None:
    supported = described.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    # Same rule as AwsCompute picks the image by: x86_64 wherever it runs.
    if "x86_64" in supported:
        return "x86_64"
    return "arm64" if "arm64" in supported else None


def _on_demand_price(document: str) -> tuple[str, Price] | None:
    """(instance type, hourly USD price) from one PriceList entry (a JSON document)."""
    try:
        item = json.loads(document)
        instance_type = item["product"]["attributes"].get("instanceType")
        terms = item.get("terms", {}).get("OnDemand", {})
        for term in terms.values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if dimension.get("unit") == "Hrs" and usd is not None and instance_type:
                    hourly = float(usd)
                    return instance_type, Price(
                        hourly=hourly, monthly=round(hourly * HOURS_PER_MONTH, 4), currency="USD"
                    )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CloudError(f"AWS's price list has an entry that could not be read: {exc}") from exc
    return None


class AwsCatalogue(_Aws, CatalogueProvider):
    """Regions, instance types and on-demand prices (see the module docstring)."""

    concurrency = 4  # regions read at once; the Price List API throttles early
    pricing_region = "us-east-1"
    default_disk_size_gb = 8

    async def _each(
        self, regions: Sequence[str], doing: str, read: Callable[[str], T],
        limit: asyncio.Semaphore,
    ) -> dict[str, T]:
        async def one(region: str) -> T:
            async with limit:
                return await self._run(f"{doing} in {region}", lambda: read(region))

        results = await asyncio.gather(*(one(region) for region in regions))
        return dict(zip(regions, results, strict=True))

    # ---- regions ------------------------------------------------------------------------

    async def list_regions(self) -> list[RegionInfo]:
        codes = await self._run("list the EC2 regions", self._enabled_regions)
        limit = asyncio.Semaphore(self.concurrency)
        names, zones = await asyncio.gather(
            self._run("read the regions' names", lambda: self._region_names(codes)),
            self._each(codes, "list the availability zones", self._zones, limit),
        )
        return [RegionInfo(code, names.get(code, code), zones[code]) for code in codes]

    def _enabled_regions(self) -> list[str]:
        """DescribeRegions' enabled regions, of the default region's partition only: a key
        belongs to one partition (aws, aws-cn, aws-us-gov) and is refused in the others,
        should a listing name them (moto's does)."""
        resolver = botocore.session.get_session()

        def partition(region: str) -> str | None:
            try:
                return str(resolver.get_partition_for_region(region))
            except BotoCoreError:
                return None  # a region newer than botocore: keep it

        home = partition(self.default_region)
        return sorted(
            code for code in self._regions() if home is None or partition(code) in (home, None)
        )

    def _region_names(self, codes: Sequence[str]) -> dict[str, str]:
        ssm = self.service_client("ssm", self.default_region, self._settings.aws_endpoint_url)
        names: dict[str, str] = {}
        try:
            for batch in _batches(codes, _SSM_BATCH):
                answer = ssm.get_parameters(Names=[_REGION_NAME.format(c) for c in batch])
                for parameter in answer.get("Parameters", []):
                    names[parameter["Name"].split("/")[-2]] = parameter["Value"]
        except ClientError as exc:
            # Names only read better than codes: a key without ssm:GetParameters still
            # lists what it can order.
            logger.warning("AWS: region names not read (%s); using the codes", _aws_message(exc))
        return names

    def _zones(self, region: str) -> tuple[str, ...]:
        answer = self.client(region).describe_availability_zones(Filters=[
            {"Name": "zone-type", "Values": ["availability-zone"]},
            {"Name": "state", "Values": ["available"]},
        ])
        return tuple(sorted(z["ZoneName"] for z in answer.get("AvailabilityZones", [])))

    # ---- instance types -----------------------------------------------------------------

    async def list_instance_types(self, regions: Sequence[str]) -> list[InstanceTypeInfo]:
        wanted = list(dict.fromkeys(regions))
        if not wanted:
            return []
        limit = asyncio.Semaphore(self.concurrency)
        offers, prices = await asyncio.gather(
            self._each(wanted, "list the instance types offered", self._offered, limit),
            self._each(wanted, "read the EC2 prices", self._prices, limit),
        )
        specs = await self._run(
            "describe the instance types", lambda: self._describe_types(wanted, offers)
        )
        infos = []
        for name, described in sorted(specs.items()):
            architecture = _architecture_of(described)
            if architecture is None or described.get("BareMetal") or ".metal" in name:
                continue
            infos.append(InstanceTypeInfo(
                type=name,
                family=name.split(".", 1)[0],
                architecture=architecture,
                vcpus=int(described["VCpuInfo"]["DefaultVCpus"]),
                memory_mb=int(described["MemoryInfo"]["SizeInMiB"]),
                default_disk_size_gb=self.default_disk_size_gb,
                regions={r: prices[r].get(name) for r in wanted if name in offers[r]},
            ))
        return infos

    def _offered(self, region: str) -> set[str]:
        pages = self.client(region).get_paginator("describe_instance_type_offerings").paginate(
            LocationType="region"
        )
        return {o["InstanceType"] for page in pages for o in page.get("InstanceTypeOfferings", [])}

    def _describe_types(
        self, regions: Sequence[str], offers: Mapping[str, set[str]]
    ) -> dict[str, dict[str, Any]]:
        """Specs of every type offered in `regions` that a server can be: one listing in
        the first region, then the types only other regions offer, by name, where offered
        (EC2 refuses a name its region does not offer)."""
        first = regions[0]
        specs = {t["InstanceType"]: t for t in self._type_specs(first)}
        elsewhere: dict[str, list[str]] = {}
        seen = set(offers[first])
        for region in regions[1:]:
            only_here = sorted(offers[region] - seen)
            seen.update(only_here)
            if only_here:
                elsewhere[region] = only_here
        for region, names in elsewhere.items():
            for batch in _batches(names, _TYPES_BATCH):
                specs.update((t["InstanceType"], t) for t in self._type_specs(region, batch))
        return {name: spec for name, spec in specs.items() if name in seen}

    def _type_specs(self, region: str, names: list[str] | None = None) -> list[dict[str, Any]]:
        args: dict[str, Any] = {"Filters": _TYPE_FILTERS}
        if names:
            args["InstanceTypes"] = names
        pages = self.client(region).get_paginator("describe_instance_types").paginate(**args)
        return [t for page in pages for t in page.get("InstanceTypes", [])]

    def _prices(self, region: str) -> dict[str, Price]:
        pricing = self.service_client(
            "pricing", self.pricing_region, self._settings.aws_pricing_endpoint_url
        )
        filters = [
            {"Type": "TERM_MATCH", "Field": field, "Value": value}
            for field, value in {"regionCode": region, **_PRICE_FILTERS}.items()
        ]
        pages = pricing.get_paginator("get_products").paginate(
            ServiceCode="AmazonEC2", Filters=filters, FormatVersion="aws_v1"
        )
        prices: dict[str, Price] = {}
        for page in pages:
            for document in page.get("PriceList", []):
                found = _on_demand_price(document)
                # Should two entries match one type, the first one stands.
                if found and found[0] not in prices:
                    prices[found[0]] = found[1]
        return prices

"""AzureCatalogue through azure-identity, the subscriptions and compute clients and httpx,
against the local Entra ID + Resource Manager + Retail Prices stand-in (served over TLS,
trusted via REQUESTS_CA_BUNDLE for the SDK and SSL_CERT_FILE for httpx)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.cloud.azure import AzureCatalogue
from app.cloud.base import CloudError, CredentialRejected, InstanceTypeInfo, Price, RegionInfo
from app.core.settings import Settings
from tests.cloud.azure_standin import (
    NO_RIGHTS_SUBSCRIPTION,
    SKUS,
    AzureStandIn,
    credential,
    serving,
)
from tests.standins import checked


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureStandIn]:
    with serving(AzureStandIn(), tmp_path_factory.mktemp("azure-tls")) as standin:
        yield standin


@pytest.fixture
def standin(served: AzureStandIn) -> Iterator[AzureStandIn]:
    yield from checked(served)


@pytest.fixture
def settings(served: AzureStandIn) -> Settings:
    return Settings(azure_login_url=served.login_url,
                    azure_management_url=served.management_url,
                    azure_prices_url=served.prices_url,
                    provider_timeout_seconds=5.0)


@pytest.fixture
def catalogue(settings: Settings, standin: AzureStandIn) -> AzureCatalogue:
    return AzureCatalogue(credential(), settings)


def _sku_lists(standin: AzureStandIn) -> list[dict[str, str]]:
    """The SKU list calls made (their first pages: later ones carry a $skiptoken)."""
    return [q for q in standin.sku_requests if "$skiptoken" not in q]


def _by_type(types: list[InstanceTypeInfo]) -> dict[str, InstanceTypeInfo]:
    return {t.type: t for t in types}


async def test_regions_are_physical_with_names_and_zones(
    catalogue: AzureCatalogue, standin: AzureStandIn
) -> None:
    regions = await catalogue.list_regions()

    assert regions == [
        RegionInfo(code="eastus", name="East US", zones=("1", "2", "3")),
        RegionInfo(code="westus", name="West US", zones=()),
        # No zone mappings in its location: the VM sizes there name the zones.
        RegionInfo(code="westeurope", name="West Europe", zones=("1", "2", "3")),
    ]
    assert standin.tokens_issued == 1


async def test_types_with_specs_regions_and_prices(
    catalogue: AzureCatalogue, standin: AzureStandIn
) -> None:
    types = _by_type(await catalogue.list_instance_types(["eastus", "westus", "westeurope"]))

    # Gen1-only, confidential and not-for-this-offer sizes, and non-VM SKUs, are left out.
    assert sorted(types) == ["Standard_B1s", "Standard_D2ps_v5", "Standard_D4s_v5",
                             "Standard_E4-2s_v5"]
    b1s = types["Standard_B1s"]
    assert (b1s.family, b1s.architecture, b1s.vcpus, b1s.memory_mb,
            b1s.default_disk_size_gb) == ("standardBSFamily", "x86_64", 1, 1024, 30)
    # Linux pay-as-you-go only: neither the Windows nor the Spot meter.
    assert b1s.regions == {
        "eastus": Price(hourly=0.0104, monthly=7.592, currency="USD"),
        "westus": Price(hourly=0.0124, monthly=9.052, currency="USD"),
        "westeurope": Price(hourly=0.0114, monthly=8.322, currency="USD"),
    }
    arm = types["Standard_D2ps_v5"]
    assert (arm.architecture, arm.vcpus, arm.memory_mb) == ("arm64", 2, 8192)
    assert arm.regions["westeurope"] == Price(hourly=0.085, monthly=62.05, currency="USD")
    d4 = types["Standard_D4s_v5"]
    # Not offered to this subscription in westus; no Linux price listed in westeurope; in
    # eastus the region's own meter, not the other region's or the Low Priority one.
    assert d4.regions == {"eastus": Price(hourly=0.192, monthly=140.16, currency="USD"),
                          "westeurope": None}
    constrained = types["Standard_E4-2s_v5"]
    assert (constrained.vcpus, constrained.memory_mb) == (2, 32768)
    assert list(constrained.regions) == ["eastus"]

    # One SKU list, unfiltered, followed through its pages.
    assert _sku_lists(standin) == [{"api-version": "2021-07-01"}]
    assert len(standin.sku_requests) == -(-len(SKUS) // standin.sku_page_size) > 1
    # Prices: per region, every page followed (eastus has 10 items, 2 a page).
    filters = [q["$filter"] for q in standin.price_requests]
    assert sorted(set(filters)) == sorted(
        "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
        f"and armRegionName eq '{r}'" for r in ("eastus", "westus", "westeurope"))
    assert sum("'eastus'" in f for f in filters) == 5
    assert [q.get("$skip") for q in standin.price_requests if "'eastus'" in q["$filter"]] \
        == [None, "2", "4", "6", "8"]


async def test_one_region_lists_its_skus_only(
    catalogue: AzureCatalogue, standin: AzureStandIn
) -> None:
    types = _by_type(await catalogue.list_instance_types(["westus"]))

    assert list(types) == ["Standard_B1s"]  # D4s_v5 is not for this subscription there
    assert types["Standard_B1s"].regions == {
        "westus": Price(hourly=0.0124, monthly=9.052, currency="USD")}
    assert [q.get("$filter") for q in _sku_lists(standin)] == ["location eq 'westus'"]
    assert {q["$filter"].rsplit(" ", 1)[1] for q in standin.price_requests} == {"'westus'"}


async def test_regions_then_types_share_one_sku_list(
    catalogue: AzureCatalogue, standin: AzureStandIn
) -> None:
    await catalogue.list_regions()
    types = await catalogue.list_instance_types(["eastus", "westeurope"])

    assert len(types) == 4
    assert len(_sku_lists(standin)) == 1


async def test_throttled_prices_are_retried(
    catalogue: AzureCatalogue, standin: AzureStandIn
) -> None:
    standin.prices_throttled = 2
    types = _by_type(await catalogue.list_instance_types(["eastus"]))
    assert types["Standard_B1s"].regions["eastus"] == Price(0.0104, 7.592, "USD")
    assert len(standin.price_requests) == 2 + 5


async def test_rejected_secret(settings: Settings, standin: AzureStandIn) -> None:
    catalogue = AzureCatalogue(credential(client_secret="wrong"), settings)
    with pytest.raises(CredentialRejected, match=r"rejected the credential.*AADSTS7000215"):
        await catalogue.list_regions()
    with pytest.raises(CredentialRejected, match="AADSTS7000215"):
        await catalogue.list_instance_types(["eastus"])
    assert standin.requests == [] and standin.price_requests == []


async def test_principal_without_rights(settings: Settings, standin: AzureStandIn) -> None:
    catalogue = AzureCatalogue(credential(subscription_id=NO_RIGHTS_SUBSCRIPTION), settings)
    with pytest.raises(CredentialRejected, match="AuthorizationFailed"):
        await catalogue.list_regions()
    with pytest.raises(CredentialRejected, match="AuthorizationFailed"):
        await catalogue.list_instance_types(["eastus", "westus"])
    assert standin.price_requests == []


async def test_busy_resource_manager_is_a_cloud_error(
    catalogue: AzureCatalogue, standin: AzureStandIn
) -> None:
    standin.skus_busy = True
    with pytest.raises(CloudError, match="503 ServerBusy") as raised:
        await catalogue.list_instance_types(["eastus", "westus"])
    assert not isinstance(raised.value, CredentialRejected)
    assert len(_sku_lists(standin)) > 1  # the SDK retried before giving up


async def test_failing_price_list_is_a_cloud_error(
    catalogue: AzureCatalogue, standin: AzureStandIn
) -> None:
    standin.prices_fail = True
    with pytest.raises(CloudError, match="Retail Prices API answered 500"):
        await catalogue.list_instance_types(["eastus", "westus", "westeurope"])

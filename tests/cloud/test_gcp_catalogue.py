"""GcpCatalogue through google-cloud-compute's REST transport and the Cloud Billing
Catalog API (google-auth's authorized session), against the local GCE stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.cloud.base import CloudError, CredentialRejected, InstanceTypeInfo, Price
from app.cloud.gcp import GcpCatalogue
from app.core.settings import Settings
from tests.cloud.gcp_standin import (
    E2_CORE,
    E2_CORE_EU,
    E2_RAM,
    E2_RAM_EU,
    F1_MICRO,
    N1_CORE,
    N1_RAM,
    N2_CORE,
    N2_RAM,
    PROJECT,
    T2A_CORE,
    T2A_RAM,
    GceStandIn,
    build_app,
    new_key,
)
from tests.conftest import free_port
from tests.standins import checked, serve

US, EU = "us-central1", "europe-west1"


@pytest.fixture(scope="module")
def keys() -> tuple[str, object]:
    return new_key()


@pytest.fixture(scope="module")
def served(keys: tuple[str, object]) -> Iterator[tuple[GceStandIn, str]]:
    standin = GceStandIn(public_key=keys[1])
    with serve(build_app(standin), free_port()) as url:
        yield standin, url


@pytest.fixture
def standin(served: tuple[GceStandIn, str]) -> Iterator[GceStandIn]:
    yield from checked(served[0])


@pytest.fixture
def settings(served: tuple[GceStandIn, str]) -> Settings:
    _, url = served
    return Settings(gcp_compute_url=f"{url}/compute/v1", gcp_token_url=f"{url}/token",
                    gcp_billing_url=f"{url}/billing/v1", provider_timeout_seconds=5.0)


@pytest.fixture
def catalogue(standin: GceStandIn, keys: tuple[str, object], settings: Settings) -> GcpCatalogue:
    return GcpCatalogue({"service_account_key": standin.key_json(keys[0])}, settings)


def _hourly(price: Price | None) -> float:
    assert price is not None and price.currency == "USD"
    assert price.monthly == pytest.approx(price.hourly * 730, abs=1e-3)
    return price.hourly


def _queries(standin: GceStandIn, suffix: str) -> list[dict[str, str]]:
    return [query for path, query in standin.queries if path.endswith(suffix)]


async def test_regions_with_names_and_zones(catalogue: GcpCatalogue, standin: GceStandIn) -> None:
    regions = await catalogue.list_regions()

    by_code = {r.code: r for r in regions}
    # us-west9 is deleted (deprecated state DELETED): not offered.
    assert list(by_code) == ["us-central1", "us-east1", "europe-west1", "asia-northeast1"]
    assert by_code[US].zones == ("us-central1-a", "us-central1-b", "us-central1-c",
                                 "us-central1-f")
    assert by_code["us-east1"].zones == ("us-east1-b", "us-east1-c", "us-east1-d")
    assert by_code[US].name == US  # the API's description is the code itself
    assert by_code["asia-northeast1"].name == "Tokyo, Japan"
    # Five regions, three a page: the second page was asked for with the token.
    pages = _queries(standin, f"/projects/{PROJECT}/regions")
    assert [q.get("pageToken") for q in pages] == [None, "after-3"]


async def test_instance_types_with_specs_availability_and_prices(
    catalogue: GcpCatalogue, standin: GceStandIn
) -> None:
    types = await catalogue.list_instance_types([US, EU])
    by_type = {t.type: t for t in types}

    # GPU (a2), deprecated (n1-ultramem-40) and other regions' types (h3) are left out.
    assert set(by_type) == {
        "e2-micro", "e2-medium", "e2-standard-2", "n2-standard-4", "f1-micro",
        "n1-standard-1", "t2a-standard-1", "c4a-standard-1", "c3-standard-4",
        "c3-standard-4-lssd",
    }
    assert by_type["e2-standard-2"] == InstanceTypeInfo(
        type="e2-standard-2", family="E2", architecture="x86_64", vcpus=2, memory_mb=8192,
        default_disk_size_gb=10, regions=by_type["e2-standard-2"].regions,
    )
    assert by_type["t2a-standard-1"].architecture == "arm64"
    assert by_type["c4a-standard-1"].architecture == "arm64"  # by family: no field
    assert by_type["n2-standard-4"].family == "N2"
    assert (by_type["f1-micro"].vcpus, by_type["f1-micro"].memory_mb) == (1, 614)

    # Availability: any zone of the region lists it.
    assert set(by_type["e2-standard-2"].regions) == {US, EU}
    assert set(by_type["c3-standard-4"].regions) == {US}

    e2 = by_type["e2-standard-2"].regions
    assert _hourly(e2[US]) == pytest.approx(2 * E2_CORE + 8 * E2_RAM, abs=1e-6)
    assert _hourly(e2[EU]) == pytest.approx(2 * E2_CORE_EU + 8 * E2_RAM_EU, abs=1e-6)
    n2 = by_type["n2-standard-4"].regions
    # The custom N2 SKU is not the predefined type's price.
    assert _hourly(n2[US]) == pytest.approx(4 * N2_CORE + 16 * N2_RAM, abs=1e-6)
    assert n2[EU] is None  # offered there, but the price list has no N2 SKU for it
    assert _hourly(by_type["n1-standard-1"].regions[US]) == pytest.approx(
        N1_CORE + 3.75 * N1_RAM, abs=1e-6)
    assert _hourly(by_type["t2a-standard-1"].regions[US]) == pytest.approx(
        T2A_CORE + 4 * T2A_RAM, abs=1e-6)
    # Shared core: E2 bills a fraction of a vCPU (not the spot price), f1 its own SKU.
    assert _hourly(by_type["e2-micro"].regions[US]) == pytest.approx(
        0.25 * E2_CORE + 1 * E2_RAM, abs=1e-6)
    assert _hourly(by_type["e2-medium"].regions[US]) == pytest.approx(
        1 * E2_CORE + 4 * E2_RAM, abs=1e-6)
    assert _hourly(by_type["f1-micro"].regions[US]) == pytest.approx(F1_MICRO)
    # No C3 SKUs; bundled local SSD is billed apart; no C4A SKUs.
    assert by_type["c3-standard-4"].regions == {US: None}
    assert by_type["c3-standard-4-lssd"].regions == {US: None}
    assert by_type["c4a-standard-1"].regions == {US: None}

    # One aggregated listing, filtered to the asked regions' zones (18 machine types
    # there, 3 a page), and every SKU page (16 SKUs, 3 a page), in USD.
    listings = _queries(standin, "/aggregated/machineTypes")
    assert [q.get("pageToken") for q in listings] == [
        None, "after-3", "after-6", "after-9", "after-12", "after-15"]
    assert {q["filter"] for q in listings} == {'zone eq "(europe-west1|us-central1)-[a-z0-9]+"'}
    sku_pages = _queries(standin, "/services/6F81-5844-456A/skus")
    assert [q.get("pageToken") for q in sku_pages] == [
        None, "after-3", "after-6", "after-9", "after-12", "after-15"]
    assert {(q["currencyCode"], q["pageSize"]) for q in sku_pages} == {("USD", "5000")}


async def test_no_regions_asked_calls_nothing(
    catalogue: GcpCatalogue, standin: GceStandIn
) -> None:
    assert await catalogue.list_instance_types([]) == []
    assert standin.requests == []


async def test_rejected_key_maps_to_credential_rejected(
    settings: Settings, standin: GceStandIn
) -> None:
    other_pem, _ = new_key()
    provider = GcpCatalogue({"service_account_key": standin.key_json(other_pem)}, settings)
    with pytest.raises(CredentialRejected, match=r"refused the request \(401\)"):
        await provider.list_regions()
    # The compute listing (self-signed JWT) and the price list (token endpoint) both refuse.
    with pytest.raises(CredentialRejected, match=r"(refused|rejected)"):
        await provider.list_instance_types([US])
    assert standin.requests == []

    with pytest.raises(CredentialRejected, match="not a valid JSON key"):
        await GcpCatalogue({"service_account_key": "{not json"}, settings).list_regions()


async def test_provider_error_maps_to_cloud_error(
    catalogue: GcpCatalogue, standin: GceStandIn
) -> None:
    standin.machine_types_status = 500
    with pytest.raises(CloudError, match="500") as raised:
        await catalogue.list_instance_types([US])
    assert not isinstance(raised.value, CredentialRejected)


async def test_billing_api_disabled_is_not_a_rejected_key(
    catalogue: GcpCatalogue, standin: GceStandIn
) -> None:
    standin.billing_disabled = True
    with pytest.raises(CloudError, match="Cloud Billing API has not been used") as raised:
        await catalogue.list_instance_types([US])
    assert "not enabled" in str(raised.value)

"""`devopness-server catalogue-refresh`: the DigitalOcean and Hetzner listings through
their real client code against the stand-ins, the merge with the catalogue it replaces,
the command itself, and the API serving what it wrote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from app.catalogue import service as catalogue_data
from app.catalogue.refresh import (
    RefreshError,
    credential_from_environment,
    merge,
    refresh_catalogues,
)
from app.cloud.base import CredentialRejected, InstanceTypeInfo, Price, RegionInfo
from app.cloud.digitalocean import DigitalOceanCatalogue
from app.cloud.hetzner import HetznerCatalogue
from app.core.settings import Settings, get_settings
from launcher.cli import cli
from tests.cloud import do_standin, hetzner_standin
from tests.conftest import free_port
from tests.factories_credentials import create_credential, create_tenant
from tests.standins import serve

DO_CODE = "digitalocean-droplet"


@pytest.fixture(scope="module")
def do_served() -> Iterator[tuple[do_standin.DigitalOceanStandIn, str]]:
    standin = do_standin.DigitalOceanStandIn()
    with serve(standin.app(), free_port()) as url:
        yield standin, url


@pytest.fixture
def do(do_served: tuple[do_standin.DigitalOceanStandIn, str]) -> do_standin.DigitalOceanStandIn:
    standin, _ = do_served
    standin.reset()
    standin.page_size = 2  # every listing spans pages
    return standin


@pytest.fixture
def do_settings(do_served: tuple[Any, str]) -> Settings:
    return Settings(digitalocean_api_url=f"{do_served[1]}/v2", provider_timeout_seconds=5.0,
                    _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def hetzner_served() -> Iterator[tuple[hetzner_standin.HetznerStandIn, str]]:
    standin = hetzner_standin.HetznerStandIn()
    with serve(standin.app(), free_port()) as url:
        yield standin, url


@pytest.fixture
def hetzner(
    hetzner_served: tuple[hetzner_standin.HetznerStandIn, str],
) -> hetzner_standin.HetznerStandIn:
    standin, _ = hetzner_served
    standin.reset()
    standin.page_size = 2
    return standin


@pytest.fixture
def hetzner_settings(hetzner_served: tuple[Any, str]) -> Settings:
    return Settings(hetzner_api_url=f"{hetzner_served[1]}/v1", provider_timeout_seconds=5.0,
                    _env_file=None)  # type: ignore[call-arg]


# ---------------------------------------------------------------- provider listings


async def test_digitalocean_lists_regions_and_sizes_across_pages(
    do: do_standin.DigitalOceanStandIn, do_settings: Settings
) -> None:
    catalogue = DigitalOceanCatalogue({"api_token": do_standin.TOKEN}, do_settings)
    regions = await catalogue.list_regions()
    # ams2 is listed by DigitalOcean but not available for new droplets.
    assert [(r.code, r.name, r.zones) for r in regions] == [
        (code, do_standin.REGION_NAMES[code], ()) for code in do_standin.REGION_NAMES
        if code in do_standin.REGIONS
    ]
    types = {t.type: t for t in await catalogue.list_instance_types(["nyc3", "sgp1"])}
    # The retired size is left out; the 8 GB size is sold in nyc3 but not sgp1.
    assert set(types) == set(do_standin.SIZES)
    big = types["s-4vcpu-8gb"]
    assert (big.vcpus, big.memory_mb, big.default_disk_size_gb, big.architecture,
            big.family) == (4, 8192, 160, "x86_64", "Basic")
    assert big.regions == {"nyc3": Price(0.07143, 48.0, "USD")}
    assert set(types["s-1vcpu-1gb"].regions) == {"nyc3", "sgp1"}
    pages = [path for method, path, _ in do.requests if path.startswith("/v2/sizes")]
    assert len(pages) == 2 and all("per_page=200" in p or "per_page=2" in p for p in pages)


async def test_digitalocean_rejected_token(
    do: do_standin.DigitalOceanStandIn, do_settings: Settings
) -> None:
    with pytest.raises(CredentialRejected, match="rejected the API token"):
        await DigitalOceanCatalogue({"api_token": "wrong"}, do_settings).list_regions()


async def test_hetzner_lists_locations_datacenters_and_priced_types(
    hetzner: hetzner_standin.HetznerStandIn, hetzner_settings: Settings
) -> None:
    catalogue = HetznerCatalogue({"api_token": hetzner_standin.TOKEN}, hetzner_settings)
    regions = {r.code: r for r in await catalogue.list_regions()}
    assert set(regions) == set(hetzner_standin.LOCATIONS)
    assert regions["fsn1"].name == "Falkenstein, DE"
    types = {t.type: t for t in await catalogue.list_instance_types(["fsn1", "ash"])}
    assert set(types) == set(hetzner_standin.SERVER_TYPES)  # cx11 is deprecated
    arm = types["cax11"]
    assert (arm.architecture, arm.vcpus, arm.memory_mb, arm.default_disk_size_gb) == (
        "arm64", 2, 4096, 40)
    assert set(arm.regions) == {"fsn1"}  # not sold in Ashburn
    assert arm.regions["fsn1"] == Price(0.0062, 4.526, "EUR")  # net, before VAT
    assert types["ccx13"].family == "Dedicated vCPU (general_purpose)"
    listed = [p for _, p, _ in hetzner.requests if p.startswith("/v1/server_types")]
    assert len(listed) >= 2  # paged at 2 per page


async def test_hetzner_rejected_token(
    hetzner: hetzner_standin.HetznerStandIn, hetzner_settings: Settings
) -> None:
    with pytest.raises(CredentialRejected):
        await HetznerCatalogue({"api_token": "nope"}, hetzner_settings).list_regions()


# ---------------------------------------------------------------- merging


def _info(type_code: str, **regions: Price | None) -> InstanceTypeInfo:
    return InstanceTypeInfo(type=type_code, family="f", architecture="x86_64", vcpus=2,
                            memory_mb=2048, default_disk_size_gb=20, regions=regions)


def test_merge_keeps_known_prices_and_names_and_never_invents_one() -> None:
    old = {
        "code": "x", "name": "Example Cloud", "provider": "aws", "storage": [8, 100, 20],
        "regions": [{"code": "r1", "name": "Region One", "zones": []},
                    {"code": "r2", "name": "Old name", "zones": []},
                    {"code": "gone", "name": "Gone", "zones": []}],
        "region_price_factor": {"r2": 2.0},
        "instances": [{"name": "a", "type": "a", "family": "f", "architecture": "x86_64",
                       "default_disk_size": 20, "price_hourly": 0.01, "price_monthly": 7.3,
                       "price_currency": "USD", "vcpus": 2, "memory": 2048},
                      {"name": "old", "type": "old", "family": "f", "architecture": "x86_64",
                       "default_disk_size": 20, "price_hourly": 0.5, "price_monthly": 365.0,
                       "price_currency": "USD", "vcpus": 2, "memory": 2048}],
    }
    regions = [RegionInfo("r1", "r1"), RegionInfo("r2", "Region Two", ("r2a", "r2b")),
               RegionInfo("r3", "Region Three")]
    types = [
        _info("a", r1=Price(0.012, 8.76, "USD"), r2=None),  # r2: price unknown, was 0.02
        _info("b", r1=None, r2=Price(0.005, 3.65, "USD")),  # new; r1 unknown and unknowable
        _info("c", r1=None),  # nothing known anywhere: left out
    ]
    data, report = merge("x", old, regions, types)
    assert data["name"] == "Example Cloud" and data["storage"] == [8, 100, 20]
    assert "region_price_factor" not in data
    assert data["regions"] == [{"code": "r1", "name": "Region One", "zones": []},
                               {"code": "r2", "name": "Region Two", "zones": ["r2a", "r2b"]},
                               {"code": "r3", "name": "Region Three", "zones": []}]
    by_type = {i["type"]: i for i in data["instances"]}
    assert by_type["a"]["prices"] == {"r1": [0.012, 8.76], "r2": [0.02, 14.6]}
    assert by_type["b"]["prices"] == {"r2": [0.005, 3.65]}
    assert [i["type"] for i in data["instances"]] == ["b", "a"]  # cheapest first
    assert (report.regions_added, report.regions_removed) == (["r3"], ["gone"])
    assert (report.types_added, report.types_removed) == (["b"], ["old"])
    assert report.prices_changed == 1 and report.prices_kept == 1
    assert report.unpriced == ["b@r1", "c@r1"]
    # What the API serves from it: each type only where it is sold, at that price.
    assert [i["type"] for i in catalogue_data.priced_instances(data, "r1")] == ["a"]
    served = catalogue_data.priced_instances(data, "r2")
    assert [(i["type"], i["price_hourly"]) for i in served] == [("b", 0.005), ("a", 0.02)]
    assert all("prices" not in i for i in served)


def test_credentials_from_the_environment(tmp_path: Path) -> None:
    assert credential_from_environment(DO_CODE, {}) is None
    assert credential_from_environment("aws-ec2", {"AWS_ACCESS_KEY_ID": "A"}) is None
    key = tmp_path / "key.json"
    key.write_text('{"type": "service_account"}')
    assert credential_from_environment(
        "gcp-gce", {"GOOGLE_APPLICATION_CREDENTIALS": str(key)}
    ) == {"service_account_key": '{"type": "service_account"}'}
    with pytest.raises(RefreshError, match="cannot read"):
        credential_from_environment("gcp-gce",
                                    {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "no")})


# ---------------------------------------------------------------- the refresh, written


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_refresh_writes_a_file_the_api_serves(
    do: do_standin.DigitalOceanStandIn, do_settings: Settings, tmp_path: Path,
    client: httpx.AsyncClient, db: AsyncSession,
) -> None:
    outcomes = await refresh_catalogues(
        do_settings, output=tmp_path, environ={"DIGITALOCEAN_TOKEN": do_standin.TOKEN},
    )
    by_code = {o.code: o for o in outcomes}
    assert by_code[DO_CODE].path == tmp_path / f"{DO_CODE}.json"
    assert by_code[DO_CODE].report is not None and by_code[DO_CODE].report.types == 3
    # Without a credential the others are skipped, saying how to give one.
    assert "HCLOUD_TOKEN" in (by_code["hetzner-hcloud"].skipped or "")
    assert not any(o.failed for o in outcomes)
    assert _names(tmp_path) == [f"{DO_CODE}.json"]  # no temporary file left behind
    data = json.loads((tmp_path / f"{DO_CODE}.json").read_text())
    # Hand-kept fields survive; names come from the provider.
    assert data["name"] == "DigitalOcean Droplets" and data["provider"] == "digitalocean"
    assert {r["code"] for r in data["regions"]} == do_standin.REGIONS

    tenant = await create_tenant(db)
    base = "/static/cloud-provider-service-options/digitalocean-droplet"
    catalogue_data.use_directory(tmp_path)
    try:
        r = await client.get(f"{base}/regions/fra1/instances", headers=tenant.headers)
        assert r.status_code == 200, r.text
        assert [i["type"] for i in r.json()] == ["s-1vcpu-1gb", "s-2vcpu-4gb", "s-4vcpu-8gb"]
        r = await client.get(f"{base}/regions/sgp1/instances", headers=tenant.headers)
        assert "s-4vcpu-8gb" not in [i["type"] for i in r.json()]
        # blr1 is in the shipped catalogue but not in the account's regions any more.
        r = await client.get(f"{base}/regions/blr1/instances", headers=tenant.headers)
        assert r.status_code == 404
        r = await client.get(base, headers=tenant.headers)
        assert {x["code"] for x in r.json()["regions"]} == do_standin.REGIONS
    finally:
        catalogue_data.use_directory(None)


async def test_a_failed_refresh_leaves_the_catalogue_as_it_was(
    do: do_standin.DigitalOceanStandIn, do_settings: Settings, tmp_path: Path
) -> None:
    target = tmp_path / f"{DO_CODE}.json"
    target.write_text('{"kept": true}')
    outcomes = await refresh_catalogues(
        do_settings, codes=[DO_CODE], output=tmp_path, environ={"DIGITALOCEAN_TOKEN": "bad"},
    )
    assert outcomes[0].failed and "rejected the credential" in (outcomes[0].error or "")
    assert target.read_text() == '{"kept": true}'
    # Asked for by name without a credential: a failure, not a silent skip.
    outcomes = await refresh_catalogues(do_settings, codes=["hetzner-hcloud"],
                                        output=tmp_path, environ={})
    assert outcomes[0].failed and "HCLOUD_TOKEN" in (outcomes[0].error or "")
    # A region the account lacks.
    outcomes = await refresh_catalogues(
        do_settings, codes=[DO_CODE], output=tmp_path, only_regions=["mars1"],
        environ={"DIGITALOCEAN_TOKEN": do_standin.TOKEN},
    )
    assert "no region mars1" in (outcomes[0].error or "")
    assert target.read_text() == '{"kept": true}'
    with pytest.raises(RefreshError, match="no cloud service"):
        await refresh_catalogues(do_settings, codes=["nope"], environ={})


async def test_refresh_with_a_stored_credential_and_filters(
    do: do_standin.DigitalOceanStandIn, do_served: tuple[Any, str], settings: Settings,
    db: AsyncSession, tmp_path: Path,
) -> None:
    tenant = await create_tenant(db)
    credential = await create_credential(db, settings, tenant, provider_code="digitalocean",
                                         values={"api_token": do_standin.TOKEN})
    pointed = settings.model_copy(update={"digitalocean_api_url": f"{do_served[1]}/v2"})
    outcomes = await refresh_catalogues(
        pointed, credential_id=credential.id, output=tmp_path, only_regions=["fra1"],
        only_types=["s-4vcpu-*"], environ={},
    )
    assert [o.code for o in outcomes] == [DO_CODE] and not outcomes[0].failed
    data = json.loads((tmp_path / f"{DO_CODE}.json").read_text())
    assert [r["code"] for r in data["regions"]] == ["fra1"]
    assert [(i["type"], i["prices"]) for i in data["instances"]] == [
        ("s-4vcpu-8gb", {"fra1": [0.07143, 48.0]})]
    with pytest.raises(RefreshError, match="is for digitalocean-droplet only"):
        await refresh_catalogues(pointed, credential_id=credential.id, codes=["aws-ec2"])
    with pytest.raises(RefreshError, match="no credential 999999"):
        await refresh_catalogues(pointed, credential_id=999999)


def test_the_command(
    do: do_standin.DigitalOceanStandIn, do_served: tuple[Any, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DIGITALOCEAN_API_URL", f"{do_served[1]}/v2")
    monkeypatch.setenv("CATALOGUE_DIR", str(tmp_path / "catalogue"))
    for variable in ("DIGITALOCEAN_TOKEN", "HCLOUD_TOKEN", "AWS_ACCESS_KEY_ID",
                     "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_CLIENT_ID"):
        monkeypatch.delenv(variable, raising=False)
    # The command reads settings once per process (cached): build them from this
    # environment, and drop them again so no later test sees it.
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)
    runner = CliRunner()
    result = runner.invoke(cli, ["catalogue-refresh", "--dry-run"])
    assert result.exit_code == 1  # nothing had a credential
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", do_standin.TOKEN)
    result = runner.invoke(cli, ["catalogue-refresh", DO_CODE, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "digitalocean-droplet: 5 region(s), 3 instance type(s)" in result.output
    assert not (tmp_path / "catalogue").exists()
    result = runner.invoke(cli, ["catalogue-refresh", DO_CODE])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "catalogue" / f"{DO_CODE}.json").is_file()
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", "wrong")
    result = runner.invoke(cli, ["catalogue-refresh", DO_CODE])
    assert result.exit_code == 1 and "rejected the credential" in result.output


async def test_refresh_of_two_providers_at_once(
    do: do_standin.DigitalOceanStandIn, do_served: tuple[Any, str],
    hetzner: hetzner_standin.HetznerStandIn, hetzner_served: tuple[Any, str], tmp_path: Path,
) -> None:
    settings = Settings(digitalocean_api_url=f"{do_served[1]}/v2",
                        hetzner_api_url=f"{hetzner_served[1]}/v1", provider_timeout_seconds=5.0,
                        _env_file=None)  # type: ignore[call-arg]
    outcomes = await refresh_catalogues(
        settings, output=tmp_path,
        environ={"DIGITALOCEAN_TOKEN": do_standin.TOKEN, "HCLOUD_TOKEN": hetzner_standin.TOKEN},
    )
    assert sorted(o.code for o in outcomes if o.path) == [DO_CODE, "hetzner-hcloud"]
    data = json.loads((tmp_path / "hetzner-hcloud.json").read_text())
    shipped = json.loads((catalogue_data.DATA / "hetzner-hcloud.json").read_text())
    assert data["name"] == shipped["name"]  # kept from the shipped file
    assert {r["code"] for r in data["regions"]} == set(hetzner_standin.LOCATIONS)
    arm = next(i for i in data["instances"] if i["type"] == "cax11")
    assert arm["price_currency"] == "EUR" and set(arm["prices"]) == {"fsn1", "nbg1", "hel1"}
    assert "cx11" not in {i["type"] for i in data["instances"]}  # no longer sold
    served = catalogue_data.priced_instances(data, "ash")
    assert [i["type"] for i in served] == ["cx22", "ccx13"]

"""AwsCatalogue through boto3: EC2 and SSM against moto's server, prices against the Price
List API stand-in (`aws_pricing_standin`), both on loopback.

moto answers EC2's Describe calls at once; `page_ec2` makes it page, so what the catalogue
reads has to come through the paginators. The price list pages by two.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import moto.settings as moto_settings
import pytest

from app.cloud.aws import AwsCatalogue
from app.cloud.base import CloudError, CredentialRejected, InstanceTypeInfo, Price
from app.cloud.providers import catalogue_provider
from app.core.settings import Settings
from tests.cloud.aws_pricing_standin import PricingStandIn, product
from tests.cloud.moto_server import answer_error, page_ec2, reset
from tests.conftest import free_port
from tests.standins import serve

REGIONS = ["us-east-1", "eu-west-1"]
CREDENTIAL = {"access_key_id": "AKIAMOTOTEST00000000", "secret_access_key": "moto-secret-000000"}
UNKNOWN = {"access_key_id": "AKIANOTAKEY000000000", "secret_access_key": "wrong-secret-00000"}
_PRICING = PricingStandIn(
    credentials={CREDENTIAL["access_key_id"]: CREDENTIAL["secret_access_key"]}
)


@pytest.fixture(scope="module")
def pricing_url() -> Iterator[str]:
    with serve(_PRICING.app(), free_port()) as url:
        yield url


@pytest.fixture
def pricing(pricing_url: str) -> Iterator[PricingStandIn]:
    _PRICING.reset()
    yield _PRICING
    _PRICING.reset()


@pytest.fixture
def aws(moto_url: str, pricing_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    reset(moto_url)
    yield Settings(
        environment="test",
        aws_endpoint_url=moto_url,
        aws_pricing_endpoint_url=pricing_url,
        provider_timeout_seconds=5.0,
        _env_file=None,
    )
    reset(moto_url)


@pytest.fixture
def catalogue(aws: Settings) -> AwsCatalogue:
    provider = catalogue_provider("aws-ec2", CREDENTIAL, aws)
    assert isinstance(provider, AwsCatalogue)
    return provider


@pytest.fixture
def priced(pricing: PricingStandIn) -> PricingStandIn:
    """Prices for a few types; decoys the request's filters must keep out come first, so
    a missing filter shows as a wrong price."""
    pricing.page_size = 2
    pricing.products += [
        product("t3.micro", "us-east-1", "0.0196", operating_system="Windows"),
        product("t3.micro", "us-east-1", "0.0840", tenancy="Dedicated"),
        product("t3.micro", "us-east-1", "0.0104", capacity_status="UnusedCapacityReservation"),
        product("t3.micro", "us-east-1", "0.0500", pre_installed_sw="SQL Web"),
        product("t3.micro", "us-west-2", "0.0300"),
        product("t3.micro", "us-east-1", "0.0104", location="US East (N. Virginia)"),
        product("t3.micro", "eu-west-1", "0.0114", location="Europe (Ireland)"),
        product("t4g.micro", "us-east-1", "0.0084"),
        product("t4g.micro", "eu-west-1", "0.0092"),
        product("t2.micro", "us-east-1", "0.0116"),
        product("hpc7a.12xlarge", "eu-west-1", "7.2000"),
        product("c7i.metal-24xl", "us-east-1", "4.2840"),
    ]
    return pricing


def by_type(infos: list[InstanceTypeInfo]) -> dict[str, InstanceTypeInfo]:
    return {info.type: info for info in infos}


async def test_regions_with_names_and_zones(catalogue: AwsCatalogue, aws: Settings) -> None:
    inspect = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws.aws_endpoint_url,
                           aws_access_key_id="AKIAINSPECT000000000",
                           aws_secret_access_key="inspect-secret-0000")
    enabled = sorted(r["RegionName"] for r in inspect.describe_regions()["Regions"])

    regions = {r.code: r for r in await catalogue.list_regions()}

    # moto also lists China's and GovCloud's regions, where a commercial key is refused.
    assert list(regions) == [
        code for code in enabled if not code.startswith(("cn-", "us-gov-"))
    ]
    assert len(regions) > 30
    virginia = regions["us-east-1"]
    assert virginia.name == "US East (N. Virginia)"
    assert virginia.zones == tuple(f"us-east-1{z}" for z in "abcdef")
    assert regions["eu-west-1"].name == "Europe (Ireland)"
    assert regions["eu-west-1"].zones == ("eu-west-1a", "eu-west-1b", "eu-west-1c")
    assert regions["ap-southeast-2"].name == "Asia Pacific (Sydney)"
    assert all(r.zones and all(z.startswith(r.code) for z in r.zones) for r in regions.values())


async def test_instance_types_with_specs_regions_and_prices(
    catalogue: AwsCatalogue, priced: PricingStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    type_pages = page_ec2(monkeypatch, "describe_instance_types", "InstanceTypes", 100)
    offer_pages = page_ec2(
        monkeypatch, "describe_instance_type_offerings", "InstanceTypeOfferings", 250
    )

    types = by_type(await catalogue.list_instance_types(REGIONS))

    assert types["t3.micro"] == InstanceTypeInfo(
        type="t3.micro", family="t3", architecture="x86_64", vcpus=2, memory_mb=1024,
        default_disk_size_gb=8,
        regions={"us-east-1": Price(0.0104, 7.592, "USD"),
                 "eu-west-1": Price(0.0114, 8.322, "USD")},
    )
    graviton = types["t4g.micro"]
    assert (graviton.family, graviton.architecture, graviton.vcpus, graviton.memory_mb) == (
        "t4g", "arm64", 2, 1024
    )
    assert graviton.regions == {"us-east-1": Price(0.0084, 6.132, "USD"),
                                "eu-west-1": Price(0.0092, 6.716, "USD")}
    # i386 as well as x86_64: an x86_64 server; offered in Ireland without a price there.
    assert types["t2.micro"].architecture == "x86_64"
    assert types["t2.micro"].regions == {"us-east-1": Price(0.0116, 8.468, "USD"),
                                         "eu-west-1": None}
    # Offered in one of the regions only.
    assert types["c8gb.large"].regions == {"us-east-1": None}
    assert types["c8gb.large"].architecture == "arm64"
    # Only Ireland offers it: its specs come from there.
    hpc = types["hpc7a.12xlarge"]
    assert (hpc.vcpus, hpc.memory_mb) == (24, 786432)
    assert hpc.regions == {"eu-west-1": Price(7.2, 5256.0, "USD")}

    # Previous generations and bare metal are left out.
    assert "m1.small" not in types and "m5.large" not in types
    assert not [name for name in types if ".metal" in name]
    assert all(set(info.regions) <= set(REGIONS) and info.regions for info in types.values())
    assert len(types) > 500

    # Every list came through its paginator. Types are listed once (the first region),
    # then the four hpc7a types only Ireland offers are asked for by name.
    starts = [page for page in type_pages if page["token"] is None]
    assert len(type_pages) > 3 and type_pages[0]["token"] is None
    assert [page["items"] for page in starts[1:]] == [4]
    assert len(offer_pages) > 2 * len(REGIONS)
    # One price query per region, in pages of two, filtered as a server is billed.
    assert len(priced.requests) > len(REGIONS) + 1
    assert {json.dumps(r["Filters"], sort_keys=True) for r in priced.requests} == {
        json.dumps([
            {"Type": "TERM_MATCH", "Field": field, "Value": value}
            for field, value in [
                ("regionCode", region), ("operatingSystem", "Linux"), ("tenancy", "Shared"),
                ("preInstalledSw", "NA"), ("capacitystatus", "Used"),
                ("licenseModel", "No License required"), ("marketoption", "OnDemand"),
            ]
        ], sort_keys=True)
        for region in REGIONS
    }
    assert {r["ServiceCode"] for r in priced.requests} == {"AmazonEC2"}
    assert any(r.get("NextToken") for r in priced.requests)


async def test_no_region_no_call(catalogue: AwsCatalogue, pricing: PricingStandIn) -> None:
    assert await catalogue.list_instance_types([]) == []
    assert pricing.requests == []


@pytest.fixture
def enforced(aws: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """moto checking signatures and IAM policies; returns the key of a user allowed
    EC2's Describe calls only."""
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    iam = boto3.client("iam", endpoint_url=aws.aws_endpoint_url, region_name="us-east-1",
                       aws_access_key_id="AKIABOOTSTRAP0000000",
                       aws_secret_access_key="bootstrap-secret-0000")
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="ec2", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"}],
    }))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


async def test_rejected_credentials(
    aws: Settings, enforced: dict[str, str], pricing: PricingStandIn
) -> None:
    unknown = AwsCatalogue(UNKNOWN, aws)
    with pytest.raises(CredentialRejected) as raised:
        await unknown.list_regions()
    assert str(raised.value) == (
        "AWS refused to list the EC2 regions: AuthFailure: "
        "AWS was not able to validate the provided access credentials"
    )
    # EC2 or the price list, whichever answers first, refuses it.
    with pytest.raises(CredentialRejected, match=(
        r"^AWS refused to .*: (AuthFailure: AWS was not able to validate the provided access "
        r"credentials|UnrecognizedClientException: The security token included in the "
        r"request is invalid\.)$"
    )):
        await unknown.list_instance_types(REGIONS)

    # A key that may describe EC2 but not read SSM parameters: the codes stand as names.
    reader = {r.code: r for r in await AwsCatalogue(enforced, aws).list_regions()}
    assert reader["us-east-1"].name == "us-east-1"
    assert reader["us-east-1"].zones[0] == "us-east-1a"


async def test_price_list_refuses_the_key(
    aws: Settings, pricing: PricingStandIn
) -> None:
    # EC2 (moto, not enforcing) takes it; the Price List API checks the signature.
    wrong_secret = {**CREDENTIAL, "secret_access_key": "not-the-secret-00000"}
    with pytest.raises(CredentialRejected, match="InvalidSignatureException") as raised:
        await AwsCatalogue(wrong_secret, aws).list_instance_types(["us-east-1"])
    assert "AWS refused to read the EC2 prices in us-east-1" in str(raised.value)
    with pytest.raises(CredentialRejected, match="UnrecognizedClientException"):
        await AwsCatalogue(UNKNOWN, aws).list_instance_types(["us-east-1"])


async def test_provider_errors(catalogue: AwsCatalogue, pricing: PricingStandIn) -> None:
    pricing.error = (400, "InvalidParameterException", "Input parameters are invalid.")
    with pytest.raises(CloudError) as raised:
        await catalogue.list_instance_types(REGIONS)
    assert type(raised.value) is CloudError
    assert "InvalidParameterException: Input parameters are invalid." in str(raised.value)
    assert "read the EC2 prices in" in str(raised.value)

    answer_error(catalogue.client("eu-west-1"), "DescribeAvailabilityZones", "Unsupported",
                 "The requested configuration is currently not supported.")
    with pytest.raises(CloudError) as raised_zones:
        await catalogue.list_regions()
    assert type(raised_zones.value) is CloudError
    assert str(raised_zones.value) == (
        "AWS refused to list the availability zones in eu-west-1: Unsupported: "
        "The requested configuration is currently not supported."
    )


async def test_unreadable_price_entry(catalogue: AwsCatalogue, pricing: PricingStandIn) -> None:
    broken: dict[str, Any] = product("t3.micro", "us-east-1", "0.0104")
    broken["terms"]["OnDemand"] = ["not", "a", "mapping"]
    pricing.products.append(broken)
    with pytest.raises(CloudError, match="price list has an entry that could not be read"):
        await catalogue.list_instance_types(["us-east-1"])

"""GcpCompute and GcpNetworks through google-cloud-compute's REST transport and
google-auth's service account flow, against the local GCE stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.cloud.base import (
    CloudError,
    CredentialRejected,
    InstanceNotFound,
    InstanceSpec,
    NetworkSpec,
    QuotaExceeded,
    SubnetSpec,
)
from app.cloud.gcp import GcpCompute, GcpNetworks, default_zone, image_family
from app.core.settings import Settings
from tests.cloud.gcp_standin import PROJECT, GceStandIn, build_app, new_key
from tests.conftest import free_port
from tests.standins import checked, serve

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdevopnessstandinkey devopness@test"
ZONE = "us-central1-a"


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
                    provider_timeout_seconds=5.0)


@pytest.fixture
def credential(standin: GceStandIn, keys: tuple[str, object]) -> dict[str, str]:
    return {"service_account_key": standin.key_json(keys[0])}


def _fast(provider: GcpCompute | GcpNetworks) -> None:
    provider.gcp.poll_interval = 0.05
    provider.gcp.operation_timeout = 3.0


@pytest.fixture
def compute(credential: dict[str, str], settings: Settings) -> GcpCompute:
    provider = GcpCompute(credential, settings)
    _fast(provider)
    return provider


@pytest.fixture
def networks(credential: dict[str, str], settings: Settings) -> GcpNetworks:
    provider = GcpNetworks(credential, settings)
    _fast(provider)
    return provider


def spec(**overrides: object) -> InstanceSpec:
    values: dict[str, object] = {
        "name": "web-1.example.com", "region": "us-central1", "instance_type": "e2-small",
        "storage_size_gb": 20, "os_version_code": "ubuntu_24_04", "ssh_public_key": SSH_KEY,
        "ssh_user": "root", "tags": {"devopness-server-id": "12"},
    }
    values.update(overrides)
    return InstanceSpec(**values)  # type: ignore[arg-type]


def _insert_body(standin: GceStandIn) -> dict[str, object]:
    (body,) = [b for m, p, b in standin.requests if m == "POST" and p.endswith("/instances")]
    assert isinstance(body, dict)
    return body


async def test_create_sends_the_instance_and_boots_to_running(
    compute: GcpCompute, standin: GceStandIn
) -> None:
    standin.operation_polls = 1  # the insert operation is RUNNING once before DONE
    instance = await compute.create_instance(spec())

    assert instance.id == f"{ZONE}/web-1-example-com"
    assert instance.status == "pending" and instance.public_ip is None
    assert instance.extra["ssh_user"] == "devopness"  # GCE does not manage root's keys
    body = _insert_body(standin)
    assert body["machineType"] == f"zones/{ZONE}/machineTypes/e2-small"
    disk = body["disks"][0]  # type: ignore[index]
    assert disk["initializeParams"] == {
        "sourceImage": "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64",
        "diskSizeGb": "20", "diskName": "web-1-example-com",
    }
    assert disk["autoDelete"] is True
    nic = body["networkInterfaces"][0]  # type: ignore[index]
    assert nic["network"] == "global/networks/default"
    assert nic["accessConfigs"] == [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}]
    assert body["metadata"] == {
        "items": [{"key": "ssh-keys", "value": f"devopness:{SSH_KEY}"}]
    }
    assert body["labels"] == {"devopness-server-id": "12", "devopness-ssh-user": "devopness"}

    assert instance.provider_status == "STAGING"
    running = await compute.get_instance(instance.id)
    assert running.status == "running"
    assert running.public_ip == "34.70.1.2" and running.private_ip == "10.128.0.7"
    assert running.provider_status == "RUNNING"
    assert running.extra["ssh_user"] == "devopness"
    assert running.extra["boot_disk"] == "web-1-example-com"


async def test_create_in_a_given_zone_network_and_subnet(
    compute: GcpCompute, standin: GceStandIn
) -> None:
    await compute.create_instance(spec(
        zone="us-central1-c", ssh_user="ubuntu", network_id="vpc-1",
        subnet_id="us-central1/app", os_version_code="ubuntu_22_04",
    ))
    body = _insert_body(standin)
    nic = body["networkInterfaces"][0]  # type: ignore[index]
    assert nic["network"] == "global/networks/vpc-1"
    assert nic["subnetwork"] == "regions/us-central1/subnetworks/app"
    assert body["machineType"] == "zones/us-central1-c/machineTypes/e2-small"
    assert body["disks"][0]["initializeParams"]["sourceImage"].endswith(  # type: ignore[index]
        "/family/ubuntu-2204-lts"
    )
    assert body["metadata"]["items"][0]["value"] == f"ubuntu:{SSH_KEY}"  # type: ignore[index]


def test_default_zone_is_one_the_region_has() -> None:
    assert default_zone("us-central1") == "us-central1-a"
    assert default_zone("us-east1") == "us-east1-b"
    assert default_zone("europe-west1") == "europe-west1-b"
    assert default_zone("me-central2") == "me-central2-a"  # not in the catalogue


def test_image_family_follows_architecture_and_rejects_unknown_os() -> None:
    assert image_family("ubuntu_24_04", "t2a-standard-1").endswith("ubuntu-2404-lts-arm64")
    with pytest.raises(CloudError, match="centos_7"):
        image_family("centos_7", "e2-small")


async def test_start_stop_reboot(compute: GcpCompute, standin: GceStandIn) -> None:
    instance = await compute.create_instance(spec())
    assert (await compute.get_instance(instance.id)).status == "running"

    await compute.stop_instance(instance.id)
    stopped = await compute.get_instance(instance.id)
    assert stopped.status == "stopped" and stopped.provider_status == "TERMINATED"
    assert stopped.public_ip is None
    await compute.start_instance(instance.id)
    assert (await compute.get_instance(instance.id)).status == "running"
    await compute.reboot_instance(instance.id)
    raw = standin.instances[(ZONE, "web-1-example-com")]
    assert raw["_actions"] == ["stop", "start", "reset"]


async def test_destroy_with_disks(compute: GcpCompute, standin: GceStandIn) -> None:
    instance = await compute.create_instance(spec())
    await compute.destroy_instance(instance.id, destroy_disks=True)
    assert standin.instances == {} and standin.disks == {}
    with pytest.raises(InstanceNotFound):
        await compute.get_instance(instance.id)
    # Gone already: destroy succeeds again.
    await compute.destroy_instance(instance.id, destroy_disks=True)
    await compute.destroy_instance(instance.id, destroy_disks=False)


async def test_destroy_keeping_disks(compute: GcpCompute, standin: GceStandIn) -> None:
    standin.operation_polls = 1
    instance = await compute.create_instance(spec())
    await compute.destroy_instance(instance.id, destroy_disks=False)
    assert standin.instances == {}
    assert list(standin.disks) == [(ZONE, "web-1-example-com")]
    paths = [p for m, p, _ in standin.requests if m == "POST"]
    assert any(p.endswith("/setDiskAutoDelete") for p in paths)


async def test_quota_error_maps_and_leaves_nothing(
    compute: GcpCompute, standin: GceStandIn
) -> None:
    standin.quota_exceeded = True
    with pytest.raises(QuotaExceeded, match=r"Quota 'CPUS' exceeded.*Limit: 8\.0"):
        await compute.create_instance(spec())
    assert standin.instances == {} and standin.disks == {}


async def test_create_that_never_finishes_is_cleaned_up(
    compute: GcpCompute, standin: GceStandIn
) -> None:
    standin.operation_polls = 2  # the instance exists once the insert is DONE
    compute.gcp.operation_timeout = 0.05  # ... which our bounded wait does not see
    with pytest.raises(CloudError, match="did not finish"):
        await compute.create_instance(spec())
    # The cleanup's delete ran against the instance the insert went on to make.
    compute.gcp.operation_timeout = 3.0
    deletes = [p for m, p, _ in standin.requests if m == "DELETE"]
    assert deletes == [f"/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances/"
                       "web-1-example-com"]


async def test_rejected_key_maps_to_credential_rejected(
    settings: Settings, standin: GceStandIn
) -> None:
    other_pem, _ = new_key()
    provider = GcpCompute({"service_account_key": standin.key_json(other_pem)}, settings)
    # google-auth signs its own JWT for Google APIs: the API refuses the foreign key.
    with pytest.raises(CredentialRejected, match=r"refused the request \(401\)"):
        await provider.create_instance(spec())
    assert standin.requests == [] and standin.instances == {}

    with pytest.raises(CredentialRejected, match="not a valid JSON key"):
        await GcpCompute({"service_account_key": "{not json"}, settings).get_instance("z/x")


async def test_forbidden_project_maps_to_credential_rejected(
    settings: Settings, standin: GceStandIn, keys: tuple[str, object]
) -> None:
    key = standin.key_json(keys[0]).replace(f'"project_id": "{PROJECT}"',
                                            '"project_id": "other"')
    provider = GcpCompute({"service_account_key": key}, settings)
    with pytest.raises(CredentialRejected, match="403"):
        await provider.get_instance(f"{ZONE}/web-1")


async def test_unknown_instance(compute: GcpCompute) -> None:
    with pytest.raises(InstanceNotFound):
        await compute.get_instance(f"{ZONE}/nope")
    with pytest.raises(InstanceNotFound):
        await compute.start_instance(f"{ZONE}/nope")
    with pytest.raises(InstanceNotFound):
        await compute.get_instance("not-a-composite-id")


async def test_networks_and_subnets(networks: GcpNetworks, standin: GceStandIn) -> None:
    standin.operation_polls = 1
    network = await networks.create_network(
        NetworkSpec(name="Prod VPC", region="us-central1", cidr_block="10.0.0.0/16")
    )
    assert network.id == "prod-vpc" and network.status == "available"
    (_, _, body), *_ = [r for r in standin.requests if r[0] == "POST"]
    assert body["autoCreateSubnetworks"] is False
    assert body["routingConfig"] == {"routingMode": "REGIONAL"}

    subnet = await networks.create_subnet(SubnetSpec(
        name="app", network_id=network.id, region="us-central1", cidr_block="10.0.1.0/24",
    ))
    assert subnet.id == "us-central1/app"
    assert subnet.extra["cidr_block"] == "10.0.1.0/24" and subnet.extra["network"] == "prod-vpc"
    assert (await networks.get_network("prod-vpc")).extra["subnetworks"] == "app"

    await networks.delete_subnet(network.id, subnet.id)
    assert standin.subnets == {}
    await networks.delete_subnet(network.id, subnet.id)  # gone: fine

    await networks.delete_network(network.id)
    assert standin.networks == {}
    await networks.delete_network(network.id)  # gone: fine
    with pytest.raises(CloudError):
        await networks.get_network(network.id)


async def test_deleting_a_network_removes_its_subnets_first(
    networks: GcpNetworks, standin: GceStandIn
) -> None:
    network = await networks.create_network(
        NetworkSpec(name="net", region="europe-west1", cidr_block=None)
    )
    await networks.create_subnet(SubnetSpec(
        name="a", network_id=network.id, region="europe-west1", cidr_block="10.1.0.0/24",
    ))
    await networks.delete_network(network.id)
    assert standin.networks == {} and standin.subnets == {}

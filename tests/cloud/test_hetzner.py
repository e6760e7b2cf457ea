"""Hetzner Cloud servers and networks through the real `hcloud` library, against a
loopback stand-in of the v1 API that checks our requests and keeps state."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

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
from app.cloud.hetzner import HetznerCompute, HetznerNetworks, image_name, network_zone
from app.core.settings import Settings
from tests.cloud.hetzner_standin import (
    READ_ONLY_TOKEN,
    TOKEN,
    HetznerStandIn,
    md5_fingerprint,
)
from tests.conftest import free_port
from tests.standins import serve

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINcoHXsHivPbU8hBWJfRNAwQ6IUI7Scv897OhEOgO2LC "
    "test@devopness"
)

SPEC = InstanceSpec(
    name="web-1", region="fsn1", instance_type="cx22", storage_size_gb=40,
    os_version_code="ubuntu_24_04", ssh_public_key=PUBLIC_KEY,
    tags={"devopness-server-id": "12"},
)

_STANDIN = HetznerStandIn()


@pytest.fixture(scope="module")
def hz_url() -> Iterator[str]:
    with serve(_STANDIN.app(), free_port()) as url:
        yield url


@pytest.fixture
def hz(hz_url: str) -> HetznerStandIn:
    _STANDIN.reset()
    return _STANDIN


@pytest.fixture
def settings_hz(hz_url: str) -> Settings:
    return Settings(hetzner_api_url=f"{hz_url}/v1", provider_timeout_seconds=5.0)


@pytest.fixture
def compute(settings_hz: Settings) -> HetznerCompute:
    return HetznerCompute({"api_token": TOKEN}, settings_hz)


@pytest.fixture
def networks(settings_hz: Settings) -> HetznerNetworks:
    return HetznerNetworks({"api_token": TOKEN}, settings_hz)


def _posted(hz: HetznerStandIn, path: str) -> Any:
    return [b for m, p, b in hz.requests if (m, p) == ("POST", path)][-1]


def test_mappings() -> None:
    assert image_name("ubuntu_24_04") == "ubuntu-24.04"
    assert image_name("ubuntu_22_04") == "ubuntu-22.04"
    assert [network_zone(r) for r in ("fsn1", "nbg1", "hel1", "ash", "hil", "sin")] == [
        "eu-central", "eu-central", "eu-central", "us-east", "us-west", "ap-southeast"]
    assert network_zone("fsn1-dc14") == "eu-central"
    with pytest.raises(CloudError):
        network_zone("mars1")


async def test_create_sends_the_spec_and_becomes_running(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    instance = await compute.create_instance(SPEC)

    [key] = hz.keys.values()
    assert key["public_key"] == PUBLIC_KEY and key["name"].startswith("devopness-")
    body = _posted(hz, "/v1/servers")
    assert body["name"] == "web-1" and body["server_type"] == "cx22"
    assert body["image"] == "ubuntu-24.04" and body["location"] == "fsn1"
    assert body["ssh_keys"] == [key["id"]] and body["start_after_create"] is True
    assert body["labels"] == {"devopness-server-id": "12", "devopness-ssh-key": str(key["id"])}
    assert not {"volumes", "networks", "automount", "user_data"} & set(body)
    assert instance.status == "pending" and instance.provider_status == "initializing"
    assert instance.extra["ssh_key_id"] == str(key["id"])

    assert (await compute.get_instance(instance.id)).status == "pending"
    running = await compute.get_instance(instance.id)
    assert running.status == "running" and running.provider_status == "running"
    assert running.public_ip and running.public_ip.startswith("198.51.100.")
    assert running.private_ip is None


async def test_existing_key_is_reused_and_never_deleted(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    hz.keys[1] = {"id": 1, "name": "my laptop", "fingerprint": md5_fingerprint(PUBLIC_KEY),
                  "public_key": PUBLIC_KEY}
    instance = await compute.create_instance(SPEC)
    server = hz.servers[int(instance.id)]
    assert server["ssh_keys"] == [1] and "devopness-ssh-key" not in server["labels"]
    assert list(hz.keys) == [1]

    await compute.destroy_instance(instance.id, destroy_disks=True)
    assert not hz.servers and list(hz.keys) == [1]


async def test_uploaded_key_is_deleted_with_the_last_server_using_it(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    first = await compute.create_instance(SPEC)
    second = await compute.create_instance(replace(SPEC, name="web-2"))
    assert len(hz.keys) == 1

    await compute.destroy_instance(first.id, destroy_disks=False)
    assert len(hz.keys) == 1
    await compute.destroy_instance(second.id, destroy_disks=False)
    assert not hz.keys and not hz.servers


async def test_storage_beyond_the_type_disk_attaches_a_volume(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    instance = await compute.create_instance(replace(SPEC, storage_size_gb=100))
    [volume] = hz.volumes.values()
    assert (volume["size"], volume["location"], volume["format"]) == (100, "fsn1", "ext4")
    assert volume["name"] == "web-1-data" and volume["server"] == int(instance.id)
    body = _posted(hz, "/v1/servers")
    assert body["volumes"] == [volume["id"]] and body["automount"] is True
    assert instance.extra["volume_ids"] == str(volume["id"])
    assert (await compute.get_instance(instance.id)).extra["volume_ids"] == str(volume["id"])

    await compute.destroy_instance(instance.id, destroy_disks=False)
    assert not hz.servers and hz.volumes[volume["id"]]["server"] is None


async def test_destroy_with_disks_deletes_the_volumes(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    instance = await compute.create_instance(replace(SPEC, storage_size_gb=100))
    await compute.destroy_instance(instance.id, destroy_disks=True)
    assert not hz.servers and not hz.volumes and not hz.keys


async def test_storage_within_the_type_disk_needs_no_volume(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    await compute.create_instance(replace(SPEC, storage_size_gb=20))
    assert not hz.volumes


async def test_non_root_user_is_created_by_cloud_init(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    instance = await compute.create_instance(replace(SPEC, ssh_user="devopness"))
    user_data = hz.servers[int(instance.id)]["user_data"]
    assert user_data.startswith("#cloud-config\n")
    assert '"name": "devopness"' in user_data and PUBLIC_KEY in user_data


async def _network_with(networks: HetznerNetworks, *subnets: tuple[str, str]) -> str:
    network = await networks.create_network(NetworkSpec("prod", "fsn1", "10.0.0.0/16"))
    for region, cidr in subnets:
        await networks.create_subnet(SubnetSpec(cidr, network.id, region, cidr))
    return network.id


async def test_create_in_a_network(
    hz: HetznerStandIn, compute: HetznerCompute, networks: HetznerNetworks
) -> None:
    network_id = await _network_with(networks, ("fsn1", "10.0.1.0/24"), ("ash", "10.0.2.0/24"))
    instance = await compute.create_instance(
        replace(SPEC, network_id=network_id, subnet_id="10.0.1.0/24")
    )
    body = _posted(hz, "/v1/servers")
    # The zone has one subnet: joining the network at creation places it there.
    assert body["networks"] == [int(network_id)] and body["start_after_create"] is True
    assert instance.private_ip and instance.private_ip.startswith("10.0.1.")
    assert instance.extra["network_ids"] == network_id


async def test_create_in_a_chosen_subnet_of_a_zone_with_several(
    hz: HetznerStandIn, compute: HetznerCompute, networks: HetznerNetworks
) -> None:
    network_id = await _network_with(networks, ("fsn1", "10.0.1.0/24"), ("nbg1", "10.0.3.0/24"))
    instance = await compute.create_instance(
        replace(SPEC, network_id=network_id, subnet_id="10.0.3.0/24")
    )
    body = _posted(hz, "/v1/servers")
    assert "networks" not in body and body["start_after_create"] is False
    attach = _posted(hz, f"/v1/servers/{instance.id}/actions/attach_to_network")
    assert attach == {"network": int(network_id), "ip_range": "10.0.3.0/24"}
    assert hz.power == [(int(instance.id), "poweron")]
    current = await compute.get_instance(instance.id)
    assert current.status == "running"
    assert current.private_ip and current.private_ip.startswith("10.0.3.")


async def test_failed_attach_removes_the_server_volume_and_key(
    hz: HetznerStandIn, compute: HetznerCompute, networks: HetznerNetworks
) -> None:
    network_id = await _network_with(networks, ("fsn1", "10.0.1.0/24"), ("nbg1", "10.0.3.0/24"))
    hz.fail_attach = True
    with pytest.raises(CloudError, match="no free IP"):
        await compute.create_instance(
            replace(SPEC, network_id=network_id, subnet_id="10.0.3.0/24", storage_size_gb=80)
        )
    assert not hz.servers and not hz.volumes and not hz.keys


async def test_network_placement_is_checked_before_anything_is_made(
    hz: HetznerStandIn, compute: HetznerCompute, networks: HetznerNetworks
) -> None:
    network_id = await _network_with(networks, ("ash", "10.0.2.0/24"))
    with pytest.raises(CloudError, match="no subnet in eu-central"):
        await compute.create_instance(replace(SPEC, network_id=network_id))
    with pytest.raises(CloudError, match=r"no subnet 10\.0\.2\.0/24 in eu-central"):
        await compute.create_instance(
            replace(SPEC, network_id=network_id, subnet_id="10.0.2.0/24")
        )
    with pytest.raises(CloudError, match="does not exist"):
        await compute.create_instance(replace(SPEC, network_id="777"))
    with pytest.raises(CloudError, match="needs its network"):
        await compute.create_instance(replace(SPEC, subnet_id="10.0.2.0/24"))
    assert not hz.keys and not hz.servers


async def test_start_stop_reboot(hz: HetznerStandIn, compute: HetznerCompute) -> None:
    instance = await compute.create_instance(SPEC)
    server_id = int(instance.id)
    await compute.get_instance(instance.id)
    assert (await compute.get_instance(instance.id)).status == "running"

    await compute.start_instance(instance.id)  # already running: nothing to ask
    await compute.stop_instance(instance.id)
    assert (await compute.get_instance(instance.id)).status == "stopped"
    await compute.stop_instance(instance.id)  # already off
    await compute.reboot_instance(instance.id)  # off: power on instead
    await compute.stop_instance(instance.id)
    await compute.start_instance(instance.id)
    await compute.reboot_instance(instance.id)
    assert (await compute.get_instance(instance.id)).status == "running"
    assert hz.power == [(server_id, "shutdown"), (server_id, "poweron"),
                        (server_id, "shutdown"), (server_id, "poweron"),
                        (server_id, "reboot")]


async def test_destroy_of_a_gone_server_succeeds(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    instance = await compute.create_instance(SPEC)
    await compute.destroy_instance(instance.id, destroy_disks=True)
    await compute.destroy_instance(instance.id, destroy_disks=True)
    await compute.destroy_instance("424242", destroy_disks=False)
    await compute.destroy_instance("not-a-number", destroy_disks=False)


async def test_unknown_server(hz: HetznerStandIn, compute: HetznerCompute) -> None:
    for call in (compute.get_instance, compute.start_instance, compute.stop_instance,
                 compute.reboot_instance):
        with pytest.raises(InstanceNotFound):
            await call("424242")


async def test_server_limit_is_a_quota_error_and_cleans_up(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    hz.server_limit = 0
    with pytest.raises(QuotaExceeded, match="server limit of 0 exceeded"):
        await compute.create_instance(replace(SPEC, storage_size_gb=100))
    assert not hz.keys and not hz.volumes and not hz.servers


async def test_failure_half_way_leaves_nothing(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    hz.fail_server_create = True
    with pytest.raises(CloudError, match="server_error") as raised:
        await compute.create_instance(replace(SPEC, storage_size_gb=100))
    assert not isinstance(raised.value, QuotaExceeded)
    assert not hz.keys and not hz.volumes and not hz.servers


async def test_what_cleanup_could_not_delete_is_reported(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    hz.fail_server_create = hz.fail_key_delete = True
    with pytest.raises(CloudError) as raised:
        await compute.create_instance(replace(SPEC, storage_size_gb=100))
    [key_id] = hz.keys
    assert raised.value.__notes__ == [
        f"Cleanup failed; left on Hetzner Cloud: SSH key {key_id}."]
    assert not hz.volumes


async def test_cancelled_creation_is_finished_then_undone(
    hz: HetznerStandIn, compute: HetznerCompute
) -> None:
    hz.create_delay = 0.3
    task = asyncio.create_task(compute.create_instance(replace(SPEC, storage_size_gb=100)))
    await asyncio.sleep(0.15)  # the create request is on its way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The undo has run by the time the cancellation reaches the caller.
    assert not hz.servers and not hz.keys and not hz.volumes
    assert any(p == "/v1/servers" and m == "POST" for m, p, _ in hz.requests)


async def test_rejected_token(hz: HetznerStandIn, settings_hz: Settings) -> None:
    with pytest.raises(CredentialRejected, match="unable to authenticate"):
        await HetznerCompute({"api_token": "wrong"}, settings_hz).create_instance(SPEC)
    with pytest.raises(CredentialRejected):
        await HetznerCompute({"api_token": "wrong"}, settings_hz).get_instance("1")
    with pytest.raises(CredentialRejected):
        await HetznerCompute({}, settings_hz).get_instance("1")
    with pytest.raises(CredentialRejected):
        await HetznerNetworks({"api_token": "wrong"}, settings_hz).get_network("1")
    assert not hz.keys and not hz.servers


async def test_read_only_token_is_rejected(hz: HetznerStandIn, settings_hz: Settings) -> None:
    compute = HetznerCompute({"api_token": READ_ONLY_TOKEN}, settings_hz)
    with pytest.raises(CredentialRejected, match="only allowed to perform GET"):
        await compute.create_instance(SPEC)
    assert not hz.keys and not hz.servers


async def test_unknown_os_or_type(hz: HetznerStandIn, compute: HetznerCompute) -> None:
    with pytest.raises(CloudError, match="centos_7"):
        await compute.create_instance(replace(SPEC, os_version_code="centos_7"))
    with pytest.raises(CloudError, match="no server type 'cx999'"):
        await compute.create_instance(replace(SPEC, instance_type="cx999"))
    assert not hz.keys


async def test_unreachable_api() -> None:
    settings = Settings(hetzner_api_url=f"http://127.0.0.1:{free_port()}/v1",
                        provider_timeout_seconds=2.0)
    with pytest.raises(CloudError, match="could not be reached"):
        await HetznerCompute({"api_token": TOKEN}, settings).get_instance("1")


async def test_network_and_subnet_lifecycle(
    hz: HetznerStandIn, networks: HetznerNetworks
) -> None:
    created = await networks.create_network(
        NetworkSpec("prod", "fsn1", "10.8.0.0/16", tags={"devopness-network-id": "3"})
    )
    assert _posted(hz, "/v1/networks") == {
        "name": "prod", "ip_range": "10.8.0.0/16", "labels": {"devopness-network-id": "3"}}
    assert created.status == "available" and created.extra["ip_range"] == "10.8.0.0/16"

    subnet = await networks.create_subnet(SubnetSpec("a", created.id, "hil", "10.8.1.0/24"))
    assert _posted(hz, f"/v1/networks/{created.id}/actions/add_subnet") == {
        "type": "cloud", "network_zone": "us-west", "ip_range": "10.8.1.0/24"}
    assert subnet.id == "10.8.1.0/24" and subnet.extra["network_zone"] == "us-west"
    assert subnet.extra["gateway"] == "10.8.0.1"
    assert (await networks.get_network(created.id)).extra["subnets"] == "10.8.1.0/24"

    with pytest.raises(CloudError, match="invalid_input"):
        await networks.create_subnet(SubnetSpec("b", created.id, "fsn1", "10.8.1.0/25"))

    await networks.delete_subnet(created.id, subnet.id)
    assert hz.networks[int(created.id)]["subnets"] == []
    await networks.delete_subnet(created.id, subnet.id)  # already gone

    await networks.delete_network(created.id)
    assert not hz.networks
    await networks.delete_network(created.id)
    await networks.delete_subnet(created.id, subnet.id)
    with pytest.raises(CloudError, match="does not exist"):
        await networks.get_network(created.id)
    with pytest.raises(CloudError, match="does not exist"):
        await networks.create_subnet(SubnetSpec("c", created.id, "fsn1", "10.8.2.0/24"))


async def test_default_network_range(hz: HetznerStandIn, networks: HetznerNetworks) -> None:
    created = await networks.create_network(NetworkSpec("n", "fsn1", None))
    assert created.extra["ip_range"] == "10.0.0.0/16"

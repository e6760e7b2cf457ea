"""DigitalOcean droplets and VPCs through the real httpx code, against a loopback stand-in
of the v2 API that checks our requests and keeps state."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

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
from app.cloud.digitalocean import DigitalOceanCompute, DigitalOceanNetworks, key_fingerprint
from app.core.settings import Settings
from tests.cloud.do_standin import READ_ONLY_TOKEN, TOKEN, DigitalOceanStandIn
from tests.conftest import free_port
from tests.standins import serve

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINcoHXsHivPbU8hBWJfRNAwQ6IUI7Scv897OhEOgO2LC "
    "test@devopness"
)
# `ssh-keygen -E md5 -lf` of PUBLIC_KEY.
PUBLIC_KEY_MD5 = "1d:a8:bf:f2:e3:d4:07:e9:03:5b:ad:fa:10:61:2e:52"

SPEC = InstanceSpec(
    name="web-1", region="nyc3", instance_type="s-1vcpu-1gb", storage_size_gb=25,
    os_version_code="ubuntu_24_04", ssh_public_key=PUBLIC_KEY,
    tags={"devopness-server-id": "12"},
)

_STANDIN = DigitalOceanStandIn()


@pytest.fixture(scope="module")
def do_url() -> Iterator[str]:
    with serve(_STANDIN.app(), free_port()) as url:
        yield url


@pytest.fixture
def do(do_url: str) -> DigitalOceanStandIn:
    _STANDIN.reset()
    return _STANDIN


@pytest.fixture
def settings_do(do_url: str) -> Settings:
    return Settings(digitalocean_api_url=f"{do_url}/v2", provider_timeout_seconds=5.0)


@pytest.fixture
def compute(settings_do: Settings) -> DigitalOceanCompute:
    return DigitalOceanCompute({"api_token": TOKEN}, settings_do)


@pytest.fixture
def networks(settings_do: Settings) -> DigitalOceanNetworks:
    return DigitalOceanNetworks({"api_token": TOKEN}, settings_do)


def test_fingerprint_matches_ssh_keygen() -> None:
    assert key_fingerprint(PUBLIC_KEY) == PUBLIC_KEY_MD5


async def test_create_sends_the_spec_and_becomes_running(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    instance = await compute.create_instance(SPEC)

    [key] = do.keys.values()
    assert key["public_key"] == PUBLIC_KEY and key["name"].startswith("devopness-")
    body = next(b for m, p, b in do.requests if (m, p) == ("POST", "/v2/droplets"))
    assert body["name"] == "web-1" and body["region"] == "nyc3"
    assert body["size"] == "s-1vcpu-1gb" and body["image"] == "ubuntu-24-04-x64"
    assert body["ssh_keys"] == [key["id"]]
    assert "devopness-server-id:12" in body["tags"]
    assert f"devopness-ssh-key:{key['id']}" in body["tags"]
    assert "vpc_uuid" not in body and "volumes" not in body and "user_data" not in body
    assert instance.status == "pending" and instance.public_ip is None
    assert instance.extra["ssh_key_id"] == str(key["id"])

    first = await compute.get_instance(instance.id)
    assert (first.status, first.provider_status, first.public_ip) == ("pending", "new", None)
    running = await compute.get_instance(instance.id)
    assert running.status == "running" and running.provider_status == "active"
    assert running.public_ip and running.public_ip.startswith("203.0.113.")
    assert running.private_ip and running.private_ip.startswith("10.10.")


async def test_existing_key_is_reused_and_never_deleted(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    do.keys[1] = {"id": 1, "fingerprint": PUBLIC_KEY_MD5, "public_key": PUBLIC_KEY,
                  "name": "my laptop"}
    instance = await compute.create_instance(SPEC)
    assert list(do.keys) == [1]
    droplet = do.droplets[int(instance.id)]
    assert droplet["ssh_keys"] == [1]
    assert not any(t.startswith("devopness-ssh-key") for t in droplet["tags"])

    await compute.destroy_instance(instance.id, destroy_disks=True)
    assert not do.droplets and list(do.keys) == [1]


async def test_uploaded_key_is_deleted_with_the_last_droplet_using_it(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    first = await compute.create_instance(SPEC)
    second = await compute.create_instance(replace(SPEC, name="web-2"))
    assert len(do.keys) == 1  # the second creation reused the key by fingerprint

    await compute.destroy_instance(first.id, destroy_disks=False)
    assert len(do.keys) == 1
    await compute.destroy_instance(second.id, destroy_disks=False)
    assert not do.keys and not do.droplets


async def test_create_in_a_vpc(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute, networks: DigitalOceanNetworks
) -> None:
    vpc = await networks.create_network(NetworkSpec("prod net", "nyc3", "10.20.0.0/20"))
    instance = await compute.create_instance(replace(SPEC, network_id=vpc.id))
    assert do.droplets[int(instance.id)]["vpc_uuid"] == vpc.id

    with pytest.raises(CloudError, match="members"):
        await networks.delete_network(vpc.id)
    await compute.destroy_instance(instance.id, destroy_disks=False)
    await networks.delete_network(vpc.id)
    assert not do.vpcs


async def test_subnet_is_refused_before_anything_is_created(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    with pytest.raises(CloudError, match="no subnets"):
        await compute.create_instance(replace(SPEC, network_id="v", subnet_id="s"))
    assert not do.keys and not do.droplets


async def test_storage_beyond_the_size_disk_attaches_a_volume(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    instance = await compute.create_instance(replace(SPEC, storage_size_gb=100))
    [volume] = do.volumes.values()
    assert volume["size_gigabytes"] == 100 and volume["region"]["slug"] == "nyc3"
    assert volume["filesystem_type"] == "ext4" and volume["name"] == "web-1-data"
    assert do.droplets[int(instance.id)]["volume_ids"] == [volume["id"]]
    assert instance.extra["volume_ids"] == volume["id"]
    assert (await compute.get_instance(instance.id)).extra["volume_ids"] == volume["id"]

    # Kept (detached) unless the disks are destroyed too.
    await compute.destroy_instance(instance.id, destroy_disks=False)
    assert not do.droplets and do.volumes[volume["id"]]["droplet_ids"] == []


async def test_destroy_with_disks_deletes_the_volumes(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    instance = await compute.create_instance(replace(SPEC, storage_size_gb=100))
    await compute.destroy_instance(instance.id, destroy_disks=True)
    assert not do.droplets and not do.volumes and not do.keys
    assert any(p.endswith("/destroy_with_associated_resources/selective")
               for _, p, _ in do.requests)


async def test_storage_within_the_size_disk_needs_no_volume(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    await compute.create_instance(replace(SPEC, storage_size_gb=20))
    assert not do.volumes


async def test_non_root_user_is_created_by_cloud_init(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    instance = await compute.create_instance(replace(SPEC, ssh_user="devopness"))
    user_data = do.droplets[int(instance.id)]["user_data"]
    assert user_data.startswith("#cloud-config\n")
    assert '"name": "devopness"' in user_data and PUBLIC_KEY in user_data


async def test_start_stop_reboot(do: DigitalOceanStandIn, compute: DigitalOceanCompute) -> None:
    instance = await compute.create_instance(replace(SPEC, storage_size_gb=0))
    droplet_id = int(instance.id)
    do.droplets[droplet_id]["status"] = "active"

    await compute.start_instance(instance.id)  # already running: nothing to ask
    await compute.stop_instance(instance.id)
    assert (await compute.get_instance(instance.id)).status == "stopped"
    await compute.stop_instance(instance.id)  # already off
    await compute.reboot_instance(instance.id)  # off: power on instead
    await compute.stop_instance(instance.id)
    await compute.start_instance(instance.id)
    await compute.reboot_instance(instance.id)
    assert (await compute.get_instance(instance.id)).status == "running"
    assert do.actions == [(droplet_id, "shutdown"), (droplet_id, "power_on"),
                          (droplet_id, "shutdown"), (droplet_id, "power_on"),
                          (droplet_id, "reboot")]


async def test_destroy_of_a_gone_droplet_succeeds(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    instance = await compute.create_instance(SPEC)
    await compute.destroy_instance(instance.id, destroy_disks=True)
    await compute.destroy_instance(instance.id, destroy_disks=True)
    await compute.destroy_instance("424242", destroy_disks=False)


async def test_unknown_droplet(do: DigitalOceanStandIn, compute: DigitalOceanCompute) -> None:
    for call in (compute.get_instance, compute.start_instance, compute.stop_instance,
                 compute.reboot_instance):
        with pytest.raises(InstanceNotFound):
            await call("424242")


async def test_droplet_limit_is_a_quota_error_and_cleans_up(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    do.droplet_limit = 0
    with pytest.raises(QuotaExceeded, match="exceed your droplet limit"):
        await compute.create_instance(replace(SPEC, storage_size_gb=100))
    assert not do.keys and not do.volumes and not do.droplets


async def test_rate_limit_is_a_quota_error(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    do.rate_limited = True
    with pytest.raises(QuotaExceeded, match="Rate limit"):
        await compute.create_instance(SPEC)
    assert not do.keys


async def test_failure_half_way_leaves_nothing(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    do.fail_droplet_create = True
    with pytest.raises(CloudError, match="500") as raised:
        await compute.create_instance(replace(SPEC, storage_size_gb=100))
    assert not isinstance(raised.value, QuotaExceeded)
    assert not do.keys and not do.volumes and not do.droplets


async def test_what_cleanup_could_not_delete_is_reported(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    do.fail_droplet_create = do.fail_key_delete = True
    with pytest.raises(CloudError) as raised:
        await compute.create_instance(replace(SPEC, storage_size_gb=100))
    [key_id] = do.keys
    assert raised.value.__notes__ == [
        f"Cleanup failed; left on DigitalOcean: SSH key {key_id}."]
    assert not do.volumes


async def test_cancelled_creation_is_finished_then_undone(
    do: DigitalOceanStandIn, compute: DigitalOceanCompute
) -> None:
    do.create_delay = 0.3
    task = asyncio.create_task(compute.create_instance(replace(SPEC, storage_size_gb=100)))
    await asyncio.sleep(0.15)  # the create request is on its way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The undo has run by the time the cancellation reaches the caller.
    assert not do.droplets and not do.keys and not do.volumes
    assert any(p == "/v2/droplets" and m == "POST" for m, p, _ in do.requests)


async def test_rejected_token(do: DigitalOceanStandIn, settings_do: Settings) -> None:
    compute = DigitalOceanCompute({"api_token": "wrong"}, settings_do)
    with pytest.raises(CredentialRejected, match="Unable to authenticate"):
        await compute.create_instance(SPEC)
    with pytest.raises(CredentialRejected):
        await compute.get_instance("1")
    with pytest.raises(CredentialRejected):
        await DigitalOceanCompute({}, settings_do).get_instance("1")
    with pytest.raises(CredentialRejected):
        await DigitalOceanNetworks({"api_token": "wrong"}, settings_do).get_network("x")
    assert not do.keys and not do.droplets


async def test_read_only_token_is_rejected(
    do: DigitalOceanStandIn, settings_do: Settings
) -> None:
    compute = DigitalOceanCompute({"api_token": READ_ONLY_TOKEN}, settings_do)
    with pytest.raises(CredentialRejected, match="read-only"):
        await compute.create_instance(SPEC)
    assert not do.keys and not do.droplets


async def test_unknown_os_or_size(do: DigitalOceanStandIn, compute: DigitalOceanCompute) -> None:
    with pytest.raises(CloudError, match="centos_7"):
        await compute.create_instance(replace(SPEC, os_version_code="centos_7"))
    with pytest.raises(CloudError, match="no droplet size 'x-huge'"):
        await compute.create_instance(replace(SPEC, instance_type="x-huge"))
    assert not do.keys


async def test_unreachable_api() -> None:
    settings = Settings(digitalocean_api_url=f"http://127.0.0.1:{free_port()}/v2",
                        provider_timeout_seconds=2.0)
    with pytest.raises(CloudError, match="could not be reached"):
        await DigitalOceanCompute({"api_token": TOKEN}, settings).get_instance("1")


async def test_vpc_lifecycle(do: DigitalOceanStandIn, networks: DigitalOceanNetworks) -> None:
    created = await networks.create_network(
        NetworkSpec("prod_net", "fra1", "10.30.0.0/20", tags={"devopness-network-id": "3"})
    )
    body = next(b for m, p, b in do.requests if (m, p) == ("POST", "/v2/vpcs"))
    assert body == {"name": "prod-net", "region": "fra1", "ip_range": "10.30.0.0/20",
                    "description": "devopness-network-id=3"}
    assert created.status == "available" and created.extra["ip_range"] == "10.30.0.0/20"
    fetched = await networks.get_network(created.id)
    assert fetched.id == created.id and fetched.extra["region"] == "fra1"

    await networks.delete_network(created.id)
    assert not do.vpcs
    await networks.delete_network(created.id)  # already gone
    with pytest.raises(CloudError, match="does not exist"):
        await networks.get_network(created.id)


async def test_default_ip_range(do: DigitalOceanStandIn, networks: DigitalOceanNetworks) -> None:
    created = await networks.create_network(NetworkSpec("n", "nyc1", None))
    assert "ip_range" not in do.requests[-1][2]
    assert created.extra["ip_range"]


async def test_no_subnets(do: DigitalOceanStandIn, networks: DigitalOceanNetworks) -> None:
    with pytest.raises(CloudError, match="no subnets"):
        await networks.create_subnet(SubnetSpec("s", "vpc", "nyc1", "10.0.1.0/24"))
    await networks.delete_subnet("vpc", "10.0.1.0/24")

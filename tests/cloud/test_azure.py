"""AzureCompute and AzureNetworks through azure-identity (MSAL client-secret flow) and the
azure-mgmt-* clients with their long-running-operation pollers, against the local
Entra ID + Resource Manager stand-in (served over TLS, trusted via REQUESTS_CA_BUNDLE)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from app.cloud.azure import AzureCompute, AzureNetworks, image_reference
from app.cloud.base import (
    CloudError,
    CredentialRejected,
    InstanceNotFound,
    InstanceSpec,
    NetworkSpec,
    QuotaExceeded,
    SubnetSpec,
)
from app.core.settings import Settings
from tests.cloud.azure_standin import (
    NO_RIGHTS_SUBSCRIPTION,
    SUBSCRIPTION,
    AzureStandIn,
    credential,
    serving,
)
from tests.standins import checked

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdevopnessstandinkey devopness@test"
GROUP = "devopness-web-1"
VM_ID = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/"
         "Microsoft.Compute/virtualMachines/web-1")


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
                    provider_timeout_seconds=5.0)


def _fast(provider: AzureCompute | AzureNetworks) -> AzureCompute | AzureNetworks:
    provider.azure.polling_interval = 0.01
    provider.azure.operation_timeout = 5.0
    return provider


@pytest.fixture
def compute(settings: Settings, standin: AzureStandIn) -> AzureCompute:
    provider = AzureCompute(credential(), settings)
    _fast(provider)
    return provider


@pytest.fixture
def networks(settings: Settings, standin: AzureStandIn) -> AzureNetworks:
    provider = AzureNetworks(credential(), settings)
    _fast(provider)
    return provider


def spec(**overrides: object) -> InstanceSpec:
    values: dict[str, object] = {
        "name": "web-1", "region": "eastus", "instance_type": "Standard_B1s",
        "storage_size_gb": 40, "os_version_code": "ubuntu_24_04", "ssh_public_key": SSH_KEY,
        "ssh_user": "root", "tags": {"devopness-server-id": "12"},
    }
    values.update(overrides)
    return InstanceSpec(**values)  # type: ignore[arg-type]


def _put(standin: AzureStandIn, suffix: str) -> dict[str, object]:
    (body,) = [b for m, p, b in standin.requests if m == "PUT" and p.endswith(suffix)]
    assert isinstance(body, dict)
    return body


async def test_create_builds_the_server_group_and_boots(
    compute: AzureCompute, standin: AzureStandIn
) -> None:
    instance = await compute.create_instance(spec())

    assert instance.id == VM_ID
    assert instance.status == "pending" and instance.provider_status == "PowerState/starting"
    assert instance.public_ip and instance.public_ip.startswith("20.51.")
    assert instance.private_ip == "10.0.0.4"
    assert instance.extra["ssh_user"] == "devopness"  # Azure refuses root as admin user
    assert instance.extra["resource_group"] == GROUP
    assert instance.extra["os_disk_id"].endswith("/disks/web-1-osdisk")
    assert standin.tokens_issued == 1  # one token, cached across the calls

    group = standin.groups[GROUP]
    assert group["location"] == "eastus"
    assert group["tags"]["devopness-server-id"] == "12"
    vm = _put(standin, "/virtualMachines/web-1")["properties"]
    assert vm["hardwareProfile"] == {"vmSize": "Standard_B1s"}  # type: ignore[index]
    storage = vm["storageProfile"]  # type: ignore[index]
    assert storage["imageReference"] == {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                         "sku": "server", "version": "latest"}
    assert storage["osDisk"]["diskSizeGB"] == 40
    linux = vm["osProfile"]["linuxConfiguration"]  # type: ignore[index]
    assert vm["osProfile"]["adminUsername"] == "devopness"  # type: ignore[index]
    assert linux["disablePasswordAuthentication"] is True
    assert linux["ssh"]["publicKeys"] == [
        {"path": "/home/devopness/.ssh/authorized_keys", "keyData": SSH_KEY}
    ]
    ip = _put(standin, "/publicIPAddresses/web-1-ip")
    assert ip["sku"] == {"name": "Standard"}
    nsg = _put(standin, "/networkSecurityGroups/web-1-nsg")["properties"]
    ports = [r["properties"]["destinationPortRange"]
             for r in nsg["securityRules"]]  # type: ignore[index]
    assert ports == ["22", "80", "443"]
    assert standin.names("virtualNetworks") == ["web-1-vnet"]  # no subnet given: its own

    running = await compute.get_instance(instance.id)
    assert running.status == "running" and running.provider_status == "PowerState/running"
    assert running.public_ip == instance.public_ip


async def test_create_in_a_given_subnet_and_zone(
    compute: AzureCompute, networks: AzureNetworks, standin: AzureStandIn
) -> None:
    network = await networks.create_network(
        NetworkSpec(name="prod", region="eastus", cidr_block="10.8.0.0/16"))
    subnet = await networks.create_subnet(SubnetSpec(
        name="app", network_id=network.id, region="eastus", cidr_block="10.8.1.0/24"))

    await compute.create_instance(spec(
        subnet_id=subnet.id, network_id=network.id, zone="2", ssh_user="ubuntu",
        os_version_code="ubuntu_22_04", instance_type="Standard_D2ps_v5",
    ))
    nic = _put(standin, "/networkInterfaces/web-1-nic")["properties"]
    config = nic["ipConfigurations"][0]["properties"]  # type: ignore[index]
    assert config["subnet"]["id"] == subnet.id
    vm = _put(standin, "/virtualMachines/web-1")
    assert vm["zones"] == ["2"]
    image = vm["properties"]["storageProfile"]["imageReference"]  # type: ignore[index]
    assert (image["offer"], image["sku"]) == ("0001-com-ubuntu-server-jammy", "22_04-lts-arm64")
    assert vm["properties"]["osProfile"]["adminUsername"] == "ubuntu"  # type: ignore[index]
    assert standin.names("virtualNetworks") == ["prod"]  # no vnet of its own


async def test_create_in_a_given_network_uses_its_first_subnet(
    compute: AzureCompute, networks: AzureNetworks, standin: AzureStandIn
) -> None:
    network = await networks.create_network(
        NetworkSpec(name="prod", region="eastus", cidr_block="10.8.0.0/16"))
    with pytest.raises(CloudError, match="has no subnet"):
        await compute.create_instance(spec(network_id=network.id))
    assert list(standin.groups) == ["devopness-net-prod"]  # the server's group is gone
    subnet = await networks.create_subnet(SubnetSpec(
        name="app", network_id=network.id, region="eastus", cidr_block="10.8.1.0/24"))
    await compute.create_instance(spec(network_id=network.id))
    nic = _put(standin, "/networkInterfaces/web-1-nic")["properties"]
    assert nic["ipConfigurations"][0]["properties"]["subnet"]["id"] == subnet.id  # type: ignore[index]


def test_image_reference_rejects_unknown_os() -> None:
    assert image_reference("ubuntu_20_04", "Standard_B2s")["sku"] == "20_04-lts-gen2"
    with pytest.raises(CloudError, match="centos_7"):
        image_reference("centos_7", "Standard_B2s")


async def test_stop_deallocates_start_restart(
    compute: AzureCompute, standin: AzureStandIn
) -> None:
    instance = await compute.create_instance(spec())
    await compute.get_instance(instance.id)  # running

    await compute.stop_instance(instance.id)
    assert (await compute.get_instance(instance.id)).status == "stopping"
    stopped = await compute.get_instance(instance.id)
    assert (stopped.status, stopped.provider_status) == ("stopped", "PowerState/deallocated")
    await compute.start_instance(instance.id)
    assert (await compute.get_instance(instance.id)).status == "pending"
    assert (await compute.get_instance(instance.id)).status == "running"
    await compute.reboot_instance(instance.id)
    vm = standin.resources[VM_ID.lower()]
    assert vm["_actions"] == ["deallocate", "start", "restart"]


async def test_destroy_with_disks_deletes_the_group(
    compute: AzureCompute, standin: AzureStandIn
) -> None:
    instance = await compute.create_instance(spec())
    await compute.destroy_instance(instance.id, destroy_disks=True)
    assert standin.groups == {} and standin.resources == {}
    with pytest.raises(InstanceNotFound):
        await compute.get_instance(instance.id)
    await compute.destroy_instance(instance.id, destroy_disks=True)  # gone: fine
    await compute.destroy_instance(instance.id, destroy_disks=False)


async def test_destroy_keeping_the_disk(compute: AzureCompute, standin: AzureStandIn) -> None:
    instance = await compute.create_instance(spec())
    await compute.destroy_instance(instance.id, destroy_disks=False)
    assert standin.names("virtualMachines") == []
    assert standin.names("networkInterfaces") == []
    assert standin.names("publicIPAddresses") == []  # a static IP bills while it exists
    assert standin.names("networkSecurityGroups") == []
    (disk,) = [r for r in standin.resources.values() if r["type"] == "Microsoft.Compute/disks"]
    assert disk["name"] == "web-1-osdisk" and disk["properties"]["diskState"] == "Unattached"


async def test_destroy_with_disks_outside_its_own_group(
    compute: AzureCompute, standin: AzureStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = await compute.create_instance(spec())
    # As for a VM whose group is not the one we make per server: resource by resource.
    monkeypatch.setattr("app.cloud.azure.compute._server_group", lambda name: "someone-elses")
    await compute.destroy_instance(instance.id, destroy_disks=True)
    assert list(standin.groups) == [GROUP]
    assert standin.names("virtualMachines") == standin.names("disks") == []
    assert standin.names("publicIPAddresses") == standin.names("networkInterfaces") == []


async def test_quota_error_maps_and_removes_the_group(
    compute: AzureCompute, standin: AzureStandIn
) -> None:
    standin.quota_exceeded = True
    with pytest.raises(QuotaExceeded, match=r"Cores quota.*Current Limit: 4"):
        await compute.create_instance(spec())
    assert standin.groups == {} and standin.resources == {}


async def test_failed_provisioning_cleans_up(
    compute: AzureCompute, standin: AzureStandIn
) -> None:
    standin.vm_fails = True
    with pytest.raises(CloudError, match="OSProvisioningTimedOut"):
        await compute.create_instance(spec())
    assert standin.groups == {} and standin.resources == {}


async def test_create_that_never_finishes_cleans_up(
    compute: AzureCompute, standin: AzureStandIn
) -> None:
    standin.hang = True
    compute.azure.operation_timeout = 0.5
    with pytest.raises(CloudError, match="did not finish"):
        await compute.create_instance(spec())
    # The group delete was asked for (it finishes once Azure gets to it).
    assert ("DELETE", f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}", None) \
        in standin.requests
    # Nothing keeps asking Azure about the operations given up on (the SDK polls from a
    # thread of its own, every polling interval, until the operation ends): a worker would
    # otherwise poll a hung operation for as long as it lives, in a thread per timeout.
    asked = len(standin.requests)
    await asyncio.sleep(0.3)  # 30 polling intervals
    assert len(standin.requests) <= asked + 2, standin.requests[asked:]
    assert not [t for t in threading.enumerate() if t.name.startswith("LROPoller")]
    standin.hang = False


async def test_existing_group_is_never_adopted(
    compute: AzureCompute, standin: AzureStandIn
) -> None:
    await compute.create_instance(spec())
    with pytest.raises(CloudError, match="already exists"):
        await compute.create_instance(spec())
    assert standin.names("virtualMachines") == ["web-1"]


async def test_rejected_secret_and_unknown_tenant(
    settings: Settings, standin: AzureStandIn
) -> None:
    provider = AzureCompute(credential(client_secret="wrong"), settings)
    with pytest.raises(CredentialRejected, match="AADSTS7000215"):
        await provider.create_instance(spec())
    assert standin.requests == []

    provider = AzureCompute(credential(tenant_id="no-such-tenant"), settings)
    with pytest.raises(CredentialRejected):
        await provider.get_instance(VM_ID)


async def test_principal_without_rights_and_unknown_subscription(
    settings: Settings, standin: AzureStandIn
) -> None:
    provider = AzureCompute(credential(subscription_id=NO_RIGHTS_SUBSCRIPTION), settings)
    with pytest.raises(CredentialRejected, match="AuthorizationFailed"):
        await provider.create_instance(spec())
    provider = AzureCompute(credential(subscription_id="nope"), settings)
    with pytest.raises(CredentialRejected, match="SubscriptionNotFound"):
        await provider.get_instance(VM_ID)
    assert standin.groups == {}


async def test_unknown_instance(compute: AzureCompute) -> None:
    with pytest.raises(InstanceNotFound):
        await compute.get_instance(VM_ID)
    with pytest.raises(InstanceNotFound):
        await compute.start_instance(VM_ID)
    with pytest.raises(InstanceNotFound):
        await compute.get_instance("web-1")


async def test_networks_and_subnets(networks: AzureNetworks, standin: AzureStandIn) -> None:
    network = await networks.create_network(NetworkSpec(
        name="Prod Net", region="westeurope", cidr_block="10.20.0.0/16",
        tags={"devopness-network-id": "3"}))
    assert network.id == (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/devopness-net-prod-net"
                          "/providers/Microsoft.Network/virtualNetworks/prod-net")
    assert network.status == "available"
    assert standin.groups["devopness-net-prod-net"]["location"] == "westeurope"

    subnet = await networks.create_subnet(SubnetSpec(
        name="app", network_id=network.id, region="westeurope", cidr_block="10.20.1.0/24"))
    assert subnet.id == f"{network.id}/subnets/app" and subnet.status == "available"
    got = await networks.get_network(network.id)
    assert got.extra["cidr_block"] == "10.20.0.0/16" and got.extra["subnets"] == "app"

    await networks.delete_subnet(network.id, subnet.id)
    assert (await networks.get_network(network.id)).extra["subnets"] == ""
    await networks.delete_subnet(network.id, subnet.id)  # gone: fine

    await networks.delete_network(network.id)
    assert standin.groups == {} and standin.resources == {}
    await networks.delete_network(network.id)  # gone: fine
    with pytest.raises(CloudError):
        await networks.get_network(network.id)

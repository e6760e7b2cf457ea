"""An Azure virtual machine end to end through the API: the same engine path as the
DigitalOcean and Hetzner tests (tests/remote/test_cloud_servers*.py), here through
azure-identity and the azure-mgmt-* clients against the Entra ID + Resource Manager
stand-in (HTTPS with its own certificate, trusted through REQUESTS_CA_BUNDLE as in
tests/cloud/test_azure.py). Its VM's public IP is 127.0.0.1 and, at boot, the VM
authorises osProfile's SSH keys for its admin user, as the Linux agent does; that user is
a fresh OS user on the loopback sshd."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from tests import factories_credentials as fc
from tests.cloud.azure_standin import (
    SUBSCRIPTION,
    AzureStandIn,
    credential,
    serving,
)
from tests.remote.cloud_loopback import (
    authorize_key,
    completes,
    delete_with_disks,
    power_cycle,
    stored_server,
    wait_action,
)
from tests.remote.conftest import SSHHost, create_os_user, delete_os_user

NAME = "azure-web-1"
GROUP = f"devopness-{NAME}"  # one resource group per server
VM_ID = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/"
         f"Microsoft.Compute/virtualMachines/{NAME}")


@dataclass
class LoopbackAzure(AzureStandIn):
    """Public IPs are 127.0.0.1; a VM's first boot authorises its keys for `user`."""

    user: str = ""
    booted: set[str] = field(default_factory=set)

    def reset(self) -> None:
        super().reset()
        self.booted.clear()

    def _check_ip(self, record: dict[str, Any], body: Any) -> None:
        super()._check_ip(record, body)
        record["properties"]["ipAddress"] = "127.0.0.1"

    def _vm_view(self, record: dict[str, Any], expand: str | None) -> dict[str, Any]:
        view = super()._vm_view(record, expand)
        # The base moves "starting" on to "running" as it is looked at: that is the boot.
        if record.get("_power") == "running" and record["id"] not in self.booted:
            self.booted.add(record["id"])
            self._linux_agent(record)
        return view

    def _linux_agent(self, record: dict[str, Any]) -> None:
        """Only the test's own OS user is served: any other admin user (the fallback for
        a reserved name) authorises nothing, so SSH then fails as it would on Azure if the
        app logged in as someone else. The keys go to the user's real home: the stand-in
        already checked the request's path is /home/<user>/.ssh/authorized_keys, but the
        test user lives elsewhere and sshd reads ~/.ssh/authorized_keys."""
        profile = record["properties"]["osProfile"]
        if profile["adminUsername"] != self.user:
            return
        for key in profile["linuxConfiguration"]["ssh"]["publicKeys"]:
            authorize_key(self.user, key["keyData"])


_STANDIN = LoopbackAzure()


@pytest.fixture(scope="module")
def azure_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackAzure]:
    with serving(_STANDIN, tmp_path_factory.mktemp("azure-tls")) as standin:
        yield standin


@pytest.fixture
def cloud(azure_served: LoopbackAzure, settings: Settings, monkeypatch: pytest.MonkeyPatch,
          sshd_host: SSHHost) -> Iterator[LoopbackAzure]:
    azure_served.reset()
    # Operations finish at their first poll: azure-core reads the stand-in's
    # "Retry-After: 0" as no hint and would sleep its 5 s polling interval per operation
    # (tests/cloud/test_azure.py covers operations that take several polls).
    azure_served.polls = 0
    user, _ = create_os_user()
    azure_served.user = user
    monkeypatch.setattr(settings, "azure_login_url", azure_served.login_url)
    monkeypatch.setattr(settings, "azure_management_url", azure_served.management_url)
    monkeypatch.setattr(settings, "provider_timeout_seconds", 5.0)
    monkeypatch.setattr(settings, "cloud_ssh_timeout_seconds", 3.0)
    yield azure_served
    delete_os_user(user)


def _body(credential_id: int, port: int, user: str) -> dict[str, Any]:
    return {
        "hostname": NAME, "credential_id": credential_id,
        "ssh_port": port, "ssh_user": user,
        "provision_input": {
            "cloud_service_code": "azure-rm",
            "settings": {"region": "eastus", "instance_type": "Standard_B1s",
                         "storage_size": 30, "os_version_code": "ubuntu_24_04"},
        },
    }


async def _create(client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
                  cloud: LoopbackAzure, port: int) -> tuple[fc.Tenant, int, dict[str, Any]]:
    tenant = await fc.create_tenant(db)
    stored = await fc.create_credential(db, settings, tenant, provider_code="azure",
                                        values=credential())
    r = await client.post(f"/environments/{tenant.environment.id}/servers",
                          json=_body(stored.id, port, cloud.user), headers=tenant.headers)
    assert r.status_code == 201, r.text
    return tenant, int(r.json()["id"]), await wait_action(client, tenant, r)


def _vm_gets(cloud: LoopbackAzure) -> int:
    return sum(1 for method, path, _ in cloud.requests
               if method == "GET" and path.lower() == VM_ID.lower())


async def test_azure_server_lifecycle_through_the_api(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    cloud: LoopbackAzure, sshd_host: SSHHost,
) -> None:
    tenant, server_id, action = await _create(client, db, settings, cloud, sshd_host.port)
    assert action["status"] == "completed", action["status_reason_human_readable"]
    assert list(cloud.groups) == [GROUP]
    vm = cloud.resources[VM_ID.lower()]
    props = vm["properties"]
    assert (vm["location"], props["hardwareProfile"]["vmSize"]) == ("eastus", "Standard_B1s")
    assert props["storageProfile"]["imageReference"] == {
        "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
        "version": "latest"}
    assert props["storageProfile"]["osDisk"]["diskSizeGB"] == 30
    assert cloud.names("disks") == [f"{NAME}-osdisk"]
    # The test user passes through as the admin user (only reserved names are swapped).
    assert props["osProfile"]["adminUsername"] == cloud.user
    [key] = props["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"]
    assert key["keyData"].startswith("ssh-")
    assert vm["tags"]["devopness-server-id"] == str(server_id)
    assert vm["tags"]["devopness-ssh-user"] == cloud.user
    server = await stored_server(db, server_id)
    assert server is not None
    assert (server.provider_instance_id, server.ip_address, server.status, server.ssh_user) == (
        VM_ID, "127.0.0.1", "running", cloud.user)
    assert server.host_key == sshd_host.host_key

    # Stopping deallocates: a powered-off VM still bills its cores.
    await power_cycle(client, db, tenant, server_id, lambda: vm["_actions"],
                      {"stop": "deallocate", "start": "start", "restart": "restart"})
    assert vm["_actions"] == ["deallocate", "start", "restart"]

    looked = _vm_gets(cloud)
    await completes(client, tenant, "POST", f"/servers/{server_id}/get-status")
    assert _vm_gets(cloud) > looked  # it asked Azure, not the stored row
    server = await stored_server(db, server_id)
    assert server is not None and (server.status, server.ip_address) == ("running", "127.0.0.1")

    await delete_with_disks(client, db, tenant, server_id)
    # With its disks the whole group goes: VM, OS disk, NIC, IP, security group, network.
    assert cloud.groups == {} and cloud.resources == {}
    assert cloud.failures == []


async def test_azure_quota_fails_the_action_and_leaves_nothing(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    cloud: LoopbackAzure, sshd_host: SSHHost,
) -> None:
    cloud.quota_exceeded = True
    _, server_id, action = await _create(client, db, settings, cloud, sshd_host.port)
    assert action["status"] == "failed"
    reason = action["status_reason_human_readable"]
    assert "quota exceeded" in reason and "Cores quota" in reason, reason
    # The group and the network pieces were made before the VM was refused ...
    assert any(m == "PUT" and p.endswith(f"/virtualMachines/{NAME}")
               for m, p, _ in cloud.requests)
    # ... and went with the group.
    assert cloud.groups == {} and cloud.resources == {}
    server = await stored_server(db, server_id)
    assert server is not None and server.status == "failed"
    assert server.provider_instance_id is None
    assert cloud.failures == []

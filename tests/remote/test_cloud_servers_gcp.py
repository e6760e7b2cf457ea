"""A Google Compute Engine server end to end through the API: the same engine path as the
DigitalOcean and Hetzner tests (tests/remote/test_cloud_servers*.py), here through
`google-cloud-compute` and google-auth's service account flow against the GCE stand-in.
Its "instance" answers on 127.0.0.1 and, at boot, authorises the `ssh-keys` metadata for
the user each line names, as the guest agent does; the user is a fresh OS user on the
loopback sshd."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from tests import factories_credentials as fc
from tests.cloud.gcp_standin import GceStandIn, build_app, new_key
from tests.conftest import free_port
from tests.remote.cloud_loopback import (
    authorize_key,
    completes,
    delete_with_disks,
    power_cycle,
    stored_server,
    wait_action,
)
from tests.remote.conftest import SSHHost, create_os_user, delete_os_user
from tests.standins import serve

ZONE = "us-central1-a"  # the first zone the catalogue lists for us-central1
NAME = "gcp-web-1"


@dataclass
class LoopbackGce(GceStandIn):
    """Instances answer on 127.0.0.1; booting one authorises its `ssh-keys` for `user`."""

    user: str = ""
    booted: set[tuple[str, str]] = field(default_factory=set)

    def reset(self) -> None:
        super().reset()
        self.booted.clear()

    def _instance_view(self, zone: str, name: str) -> dict[str, Any]:
        instance = super()._instance_view(zone, name)
        for nic in instance["networkInterfaces"]:
            for access in nic["accessConfigs"]:
                if "natIP" in access:
                    access["natIP"] = "127.0.0.1"
        if instance["status"] == "RUNNING" and (zone, name) not in self.booted:
            self.booted.add((zone, name))
            self._guest_agent(instance)
        return instance

    def _guest_agent(self, instance: dict[str, Any]) -> None:
        """What the guest agent does with "user:key" lines. Only the test's own OS user
        is served: a line naming anyone else (the root fallback user) authorises
        nothing, so SSH then fails as it would if the app named the wrong user."""
        items = {i["key"]: i["value"] for i in instance["metadata"]["items"]}
        for line in items.get("ssh-keys", "").splitlines():
            user, _, key = line.partition(":")
            if user == self.user and key:
                authorize_key(user, key)


_PRIVATE_PEM, _PUBLIC_KEY = new_key()
_STANDIN = LoopbackGce(public_key=_PUBLIC_KEY)


@pytest.fixture(scope="module")
def gcp_url() -> Iterator[str]:
    with serve(build_app(_STANDIN), free_port()) as url:
        yield url


@pytest.fixture
def cloud(gcp_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch,
          sshd_host: SSHHost) -> Iterator[LoopbackGce]:
    _STANDIN.reset()
    user, _ = create_os_user()
    _STANDIN.user = user
    monkeypatch.setattr(settings, "gcp_compute_url", f"{gcp_url}/compute/v1")
    monkeypatch.setattr(settings, "gcp_token_url", f"{gcp_url}/token")
    monkeypatch.setattr(settings, "provider_timeout_seconds", 5.0)
    monkeypatch.setattr(settings, "cloud_ssh_timeout_seconds", 3.0)
    yield _STANDIN
    delete_os_user(user)


def _body(credential_id: int, port: int, user: str) -> dict[str, Any]:
    return {
        "hostname": NAME, "credential_id": credential_id,
        "ssh_port": port, "ssh_user": user,
        "provision_input": {
            "cloud_service_code": "gcp-gce",
            "settings": {"region": "us-central1", "instance_type": "e2-small",
                         "storage_size": 20, "os_version_code": "ubuntu_24_04"},
        },
    }


async def _create(client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
                  cloud: LoopbackGce, port: int) -> tuple[fc.Tenant, int, dict[str, Any]]:
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(
        db, settings, tenant, provider_code="gcp",
        values={"service_account_key": cloud.key_json(_PRIVATE_PEM)},
    )
    r = await client.post(f"/environments/{tenant.environment.id}/servers",
                          json=_body(credential.id, port, cloud.user), headers=tenant.headers)
    assert r.status_code == 201, r.text
    return tenant, int(r.json()["id"]), await wait_action(client, tenant, r)


def _instance_gets(cloud: LoopbackGce) -> int:
    return sum(1 for method, path, _ in cloud.requests
               if method == "GET" and path.endswith(f"/zones/{ZONE}/instances/{NAME}"))


async def test_gcp_server_lifecycle_through_the_api(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    cloud: LoopbackGce, sshd_host: SSHHost,
) -> None:
    tenant, server_id, action = await _create(client, db, settings, cloud, sshd_host.port)
    assert action["status"] == "completed", action["status_reason_human_readable"]
    created = cloud.instances[(ZONE, NAME)]
    assert created["machineType"].endswith(f"/zones/{ZONE}/machineTypes/e2-small")
    assert cloud.disks[(ZONE, NAME)] == {
        "name": NAME, "sizeGb": "20",
        "sourceImage": "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64",
    }
    # The test user passes through unchanged (only root is swapped for an image user).
    assert created["labels"] == {"devopness-server-id": str(server_id),
                                 "managed-by": "devopness-server",
                                 "devopness-ssh-user": cloud.user}
    [ssh_keys] = [i["value"] for i in created["metadata"]["items"] if i["key"] == "ssh-keys"]
    assert ssh_keys.startswith(f"{cloud.user}:ssh-")
    server = await stored_server(db, server_id)
    assert server is not None
    assert (server.provider_instance_id, server.ip_address, server.status, server.ssh_user) == (
        f"{ZONE}/{NAME}", "127.0.0.1", "running", cloud.user)
    assert server.host_key == sshd_host.host_key

    await power_cycle(client, db, tenant, server_id, lambda: created["_actions"],
                      {"stop": "stop", "start": "start", "restart": "reset"})
    assert created["_actions"] == ["stop", "start", "reset"]

    looked = _instance_gets(cloud)
    await completes(client, tenant, "POST", f"/servers/{server_id}/get-status")
    assert _instance_gets(cloud) > looked  # it asked Compute Engine, not the stored row
    server = await stored_server(db, server_id)
    assert server is not None and (server.status, server.ip_address) == ("running", "127.0.0.1")

    await delete_with_disks(client, db, tenant, server_id)
    assert cloud.instances == {} and cloud.disks == {}
    # Keeping the disk would have turned its auto-delete off first.
    assert not any(p.endswith("/setDiskAutoDelete") for _, p, _ in cloud.requests)
    assert cloud.failures == []


async def test_gcp_quota_fails_the_action_and_leaves_nothing(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    cloud: LoopbackGce, sshd_host: SSHHost,
) -> None:
    cloud.quota_exceeded = True
    _, server_id, action = await _create(client, db, settings, cloud, sshd_host.port)
    assert action["status"] == "failed"
    reason = action["status_reason_human_readable"]
    assert "quota exceeded" in reason and "CPUS" in reason, reason
    # The insert was accepted and its operation failed: the request reached GCE...
    assert any(m == "POST" and p.endswith(f"/zones/{ZONE}/instances")
               for m, p, _ in cloud.requests)
    # ... and nothing of it is left.
    assert cloud.instances == {} and cloud.disks == {}
    server = await stored_server(db, server_id)
    assert server is not None and server.status == "failed"
    assert server.provider_instance_id is None
    assert cloud.failures == []

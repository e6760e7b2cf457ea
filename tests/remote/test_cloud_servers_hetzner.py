"""A Hetzner Cloud server end to end through the API: the same engine path as the
DigitalOcean test (tests/remote/test_cloud_servers.py), here through the official `hcloud`
library against the Hetzner stand-in, whose "server" is a fresh OS user on the loopback
sshd, its keys authorised at "boot" as cloud-init would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from app.core.settings import Settings
from app.servers.models import Server
from tests import factories_credentials as fc
from tests.cloud.hetzner_standin import TOKEN, HetznerStandIn
from tests.conftest import free_port
from tests.remote.cloud_loopback import authorize_key, delete_with_disks, power_cycle, wait_action
from tests.remote.conftest import SSHHost, create_os_user, delete_os_user
from tests.standins import serve


class LoopbackServers(HetznerStandIn):
    """Servers answer on 127.0.0.1; creating one authorises its keys for `user`."""

    user: str = ""

    def _server_json(self, s: dict[str, Any]) -> dict[str, Any]:
        data = super()._server_json(s)
        data["public_net"]["ipv4"]["ip"] = "127.0.0.1"
        return data

    async def servers_collection(self, request: Request) -> Response:
        response = await super().servers_collection(request)
        if request.method == "POST" and response.status_code == 201:
            for key in self.keys.values():
                authorize_key(self.user, key["public_key"])
        return response


_STANDIN = LoopbackServers()


@pytest.fixture(scope="module")
def hetzner_url() -> Iterator[str]:
    with serve(_STANDIN.app(), free_port()) as url:
        yield url


@pytest.fixture
def cloud(hetzner_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch,
          sshd_host: SSHHost) -> Iterator[LoopbackServers]:
    _STANDIN.reset()
    user, _ = create_os_user()
    _STANDIN.user = user
    monkeypatch.setattr(settings, "hetzner_api_url", f"{hetzner_url}/v1")
    monkeypatch.setattr(settings, "provider_timeout_seconds", 5.0)
    monkeypatch.setattr(settings, "cloud_ssh_timeout_seconds", 3.0)
    yield _STANDIN
    delete_os_user(user)


def _body(credential_id: int, port: int, user: str) -> dict[str, Any]:
    return {
        "hostname": "hetzner-web-1", "credential_id": credential_id,
        "ssh_port": port, "ssh_user": user,
        "provision_input": {
            "cloud_service_code": "hetzner-hcloud",
            "settings": {"region": "fsn1", "instance_type": "cx22", "storage_size": 40,
                         "os_version_code": "ubuntu_24_04"},
        },
    }


async def test_hetzner_server_lifecycle_through_the_api(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    cloud: LoopbackServers, sshd_host: SSHHost,
) -> None:
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant, provider_code="hetzner",
                                            values={"api_token": TOKEN})
    r = await client.post(f"/environments/{tenant.environment.id}/servers",
                          json=_body(credential.id, sshd_host.port, cloud.user),
                          headers=tenant.headers)
    assert r.status_code == 201, r.text
    server_id = int(r.json()["id"])
    action = await wait_action(client, tenant, r)
    assert action["status"] == "completed", action["status_reason_human_readable"]
    [created] = cloud.servers.values()
    assert (created["location"], created["server_type"], created["image"]) == (
        "fsn1", "cx22", "ubuntu-24.04")
    assert created["labels"].get("devopness-server-id") == str(server_id)
    server = await db.get(Server, server_id, populate_existing=True)
    assert server is not None
    assert (server.provider_instance_id, server.ip_address, server.status) == (
        str(created["id"]), "127.0.0.1", "running")
    assert server.host_key == sshd_host.host_key

    hetzner_id = created["id"]
    await power_cycle(client, db, tenant, server_id, lambda: cloud.power, {
        "stop": (hetzner_id, "shutdown"), "start": (hetzner_id, "poweron"),
        "restart": (hetzner_id, "reboot"),
    })
    await delete_with_disks(client, db, tenant, server_id)
    assert cloud.servers == {} and cloud.keys == {}


async def test_hetzner_limit_fails_the_action_and_leaves_nothing(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    cloud: LoopbackServers, sshd_host: SSHHost,
) -> None:
    cloud.server_limit = 0
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant, provider_code="hetzner",
                                            values={"api_token": TOKEN})
    r = await client.post(f"/environments/{tenant.environment.id}/servers",
                          json=_body(credential.id, sshd_host.port, cloud.user),
                          headers=tenant.headers)
    assert r.status_code == 201, r.text
    action = await wait_action(client, tenant, r)
    assert action["status"] == "failed"
    assert "limit" in action["status_reason_human_readable"]
    assert cloud.servers == {} and cloud.keys == {}

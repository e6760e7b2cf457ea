"""Cloud servers end to end: the API creates the server, the provision action creates the
instance through the real DigitalOcean provider code (against a local stand-in of its
API), waits for it, connects over SSH and provisions it; start/stop/restart/get-status act
on the instance; delete destroys it. The stand-in's "instance" is a fresh OS user on the
loopback sshd, whose authorized_keys the stand-in fills at "boot" as cloud-init would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from app.core.settings import Settings
from tests import factories_credentials as fc
from tests.cloud.do_standin import TOKEN, DigitalOceanStandIn
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


class LoopbackDroplets(DigitalOceanStandIn):
    """Droplets answer on 127.0.0.1; creating one authorises its keys for `user`."""

    user: str = ""

    def _droplet_json(self, droplet: dict[str, Any]) -> dict[str, Any]:
        data = super()._droplet_json(droplet)
        for net in data["networks"]["v4"]:
            if net["type"] == "public":
                net["ip_address"] = "127.0.0.1"
        return data

    async def droplets_collection(self, request: Request) -> Response:
        response = await super().droplets_collection(request)
        if request.method == "POST" and response.status_code == 202:
            for key in self.keys.values():
                authorize_key(self.user, key["public_key"])
        return response


_STANDIN = LoopbackDroplets()


@pytest.fixture(scope="module")
def do_url() -> Iterator[str]:
    with serve(_STANDIN.app(), free_port()) as url:
        yield url


@pytest.fixture
def cloud(do_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch,
          sshd_host: SSHHost) -> Iterator[LoopbackDroplets]:
    _STANDIN.reset()
    user, _ = create_os_user()
    _STANDIN.user = user
    monkeypatch.setattr(settings, "digitalocean_api_url", f"{do_url}/v2")
    monkeypatch.setattr(settings, "provider_timeout_seconds", 5.0)
    monkeypatch.setattr(settings, "cloud_ssh_timeout_seconds", 3.0)
    yield _STANDIN
    delete_os_user(user)


def _body(tenant: fc.Tenant, credential_id: int, port: int, user: str,
          **settings: Any) -> dict[str, Any]:
    return {
        "hostname": "cloud-web-1",
        "credential_id": credential_id,
        "ssh_port": port,
        "ssh_user": user,
        "provision_input": {
            "cloud_service_code": "digitalocean-droplet",
            "settings": {"region": "nyc1", "instance_type": "s-1vcpu-1gb",
                         "storage_size": 25, "os_version_code": "ubuntu_24_04", **settings},
        },
    }


async def _create(client: httpx.AsyncClient, tenant: fc.Tenant, body: dict[str, Any]
                  ) -> tuple[int, dict[str, Any]]:
    r = await client.post(f"/environments/{tenant.environment.id}/servers", json=body,
                          headers=tenant.headers)
    assert r.status_code == 201, r.text
    action = await wait_action(client, tenant, r)
    return int(r.json()["id"]), action


async def test_cloud_server_lifecycle(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    cloud: LoopbackDroplets, sshd_host: SSHHost,
) -> None:
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant, provider_code="digitalocean",
                                            values={"api_token": TOKEN})
    server_id, action = await _create(
        client, tenant, _body(tenant, credential.id, sshd_host.port, cloud.user)
    )
    assert action["type"] == "provision"
    assert action["status"] == "completed", action["status_reason_human_readable"]
    assert [s["name"] for s in action["targets"][0]["steps"]] == [
        "Create the cloud instance", "Verify the connection",
        "Install base packages and blueprint services", "Check reachability and load",
    ]
    [droplet] = cloud.droplets.values()
    assert (droplet["region"], droplet["size"], droplet["image"]) == (
        "nyc1", "s-1vcpu-1gb", "ubuntu-24-04-x64")
    assert f"devopness-server-id:{server_id}" in droplet["tags"]
    server = await stored_server(db, server_id)
    assert server is not None
    assert server.provider_instance_id == str(droplet["id"])
    assert server.ip_address == "127.0.0.1"
    assert server.status == "running"
    assert server.host_key == sshd_host.host_key

    droplet_id = droplet["id"]
    await power_cycle(client, db, tenant, server_id, lambda: cloud.actions, {
        "stop": (droplet_id, "shutdown"), "start": (droplet_id, "power_on"),
        "restart": (droplet_id, "reboot"),
    })
    await completes(client, tenant, "POST", f"/servers/{server_id}/get-status")
    await delete_with_disks(client, db, tenant, server_id)
    assert cloud.droplets == {}
    assert cloud.keys == {}  # the key we uploaded went with the last droplet using it


async def test_quota_error_fails_the_action_and_leaves_nothing(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    cloud: LoopbackDroplets, sshd_host: SSHHost,
) -> None:
    cloud.droplet_limit = 0
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant, provider_code="digitalocean",
                                            values={"api_token": TOKEN})
    server_id, action = await _create(
        client, tenant, _body(tenant, credential.id, sshd_host.port, cloud.user)
    )
    assert action["status"] == "failed"
    assert "droplet limit" in action["status_reason_human_readable"]
    assert cloud.droplets == {} and cloud.keys == {}
    server = await stored_server(db, server_id)
    assert server is not None and server.status == "failed"
    assert server.provider_instance_id is None
    # The record stays (nothing at the provider); deleting it now destroys nothing.
    r = await client.delete(f"/servers/{server_id}", headers=tenant.headers)
    done = await wait_action(client, tenant, r)
    assert done["status"] == "completed"
    assert await stored_server(db, server_id) is None


async def test_instance_never_reachable_is_destroyed(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    cloud: LoopbackDroplets,
) -> None:
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant, provider_code="digitalocean",
                                            values={"api_token": TOKEN})
    closed_port = free_port()  # nothing listens: SSH never answers
    server_id, action = await _create(
        client, tenant, _body(tenant, credential.id, closed_port, cloud.user)
    )
    assert action["status"] == "failed"
    assert "did not answer" in action["status_reason_human_readable"]
    r = await client.get(
        f"/actions/{action['id']}/targets/{action['targets'][0]['id']}/steps/1/logs",
        headers=tenant.headers,
    )
    log = r.json()["step"]["output"]
    assert "destroyed" in log, log
    assert cloud.droplets == {}
    server = await stored_server(db, server_id)
    assert server is not None and server.provider_instance_id is None


async def test_rejected_credential_is_a_clear_failure(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    cloud: LoopbackDroplets, sshd_host: SSHHost,
) -> None:
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant, provider_code="digitalocean",
                                            values={"api_token": "dop_v1_revoked"})
    _, action = await _create(
        client, tenant, _body(tenant, credential.id, sshd_host.port, cloud.user)
    )
    assert action["status"] == "failed"
    assert "rejected the credential" in action["status_reason_human_readable"]
    assert cloud.droplets == {}


async def test_cloud_server_input_is_validated(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
) -> None:
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant, provider_code="digitalocean",
                                            values={"api_token": TOKEN})
    aws = await fc.create_credential(db, settings, tenant, provider_code="aws")
    cases = [
        (_body(tenant, credential.id, 22, "root", region="mars-1"),
         "provision_input.settings.region"),
        (_body(tenant, credential.id, 22, "root", instance_type="huge"),
         "provision_input.settings.instance_type"),
        (_body(tenant, credential.id, 22, "root", storage_size="lots"),
         "provision_input.settings.storage_size"),
        (_body(tenant, aws.id, 22, "root"), "credential_id"),
    ]
    for body, field in cases:
        r = await client.post(f"/environments/{tenant.environment.id}/servers", json=body,
                              headers=tenant.headers)
        assert r.status_code == 422, r.text
        assert field in r.json()["errors"], r.json()
    r = await client.get(f"/environments/{tenant.environment.id}/servers",
                         headers=tenant.headers)
    assert r.json() == []


async def test_network_subnet_and_a_server_placed_in_it(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    cloud: LoopbackDroplets, sshd_host: SSHHost,
) -> None:
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant, provider_code="digitalocean",
                                            values={"api_token": TOKEN})
    r = await client.post(f"/environments/{tenant.environment.id}/networks", headers=tenant.headers,
                          json={"name": "shop-vpc", "credential_id": credential.id,
                                "provision_input": {"cloud_service_code": "digitalocean-droplet",
                                                    "settings": {"region": "nyc1",
                                                                 "cidr_block": "10.20.0.0/16"}}})
    assert r.status_code == 201, r.text
    network_id = r.json()["id"]
    created = await wait_action(client, tenant, r)
    assert created["status"] == "completed", created["status_reason_human_readable"]
    assert created["targets"][0]["resource_type"] == "network"
    [vpc] = cloud.vpcs.values()
    assert (vpc["name"], vpc["region"], vpc["ip_range"]) == ("shop-vpc", "nyc1", "10.20.0.0/16")

    r = await client.post(f"/networks/{network_id}/subnets", headers=tenant.headers,
                          json={"name": "web", "type": "public", "credential_id": credential.id,
                                "provision_input": {"settings": {"region": "nyc1",
                                                                 "cidr_block": "10.20.1.0/24"}}})
    assert r.status_code == 201, r.text
    subnet_id = r.json()["id"]
    done = await wait_action(client, tenant, r)
    assert done["status"] == "completed", done["status_reason_human_readable"]

    body = _body(tenant, credential.id, sshd_host.port, cloud.user)
    body["provision_input"]["subnet_id"] = subnet_id
    server_id, action = await _create(client, tenant, body)
    assert action["status"] == "completed", action["status_reason_human_readable"]
    [droplet] = cloud.droplets.values()
    assert droplet["vpc_uuid"] == vpc["id"]

    r = await client.post(f"/networks/{network_id}/get-status", headers=tenant.headers)
    status = await wait_action(client, tenant, r)
    assert status["status"] == "completed"

    # A network with members cannot go; the server first, then subnet and network.
    r = await client.delete(f"/servers/{server_id}", headers=tenant.headers)
    assert (await wait_action(client, tenant, r))["status"] \
        == "completed"
    r = await client.delete(f"/subnets/{subnet_id}", headers=tenant.headers)
    assert (await wait_action(client, tenant, r))["status"] \
        == "completed"
    r = await client.delete(f"/networks/{network_id}", headers=tenant.headers)
    assert r.status_code == 204
    deleted = await wait_action(client, tenant, r)
    assert deleted["status"] == "completed", deleted["status_reason_human_readable"]
    assert cloud.vpcs == {}
    r = await client.get(f"/networks/{network_id}", headers=tenant.headers)
    assert r.status_code == 404

"""A subnet created right after its network waits for the network's creation at the
provider (DigitalOcean stand-in, whose VPC creation is made slow or failing here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from app.networks.models import Network, Subnet
from tests import factories_credentials as fc
from tests.cloud.do_standin import TOKEN, DigitalOceanStandIn
from tests.conftest import free_port
from tests.standins import serve

_STANDIN = DigitalOceanStandIn()


@pytest.fixture(scope="module")
def do_url() -> Iterator[str]:
    with serve(_STANDIN.app(), free_port()) as url:
        yield url


@pytest.fixture
def cloud(do_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
          ) -> DigitalOceanStandIn:
    _STANDIN.reset()
    monkeypatch.setattr(settings, "digitalocean_api_url", f"{do_url}/v2")
    return _STANDIN


async def _network_then_subnet(
    client: httpx.AsyncClient, tenant: fc.Tenant, credential_id: int
) -> tuple[int, dict[str, Any], int, dict[str, Any]]:
    r = await client.post(
        f"/environments/{tenant.environment.id}/networks", headers=tenant.headers,
        json={"name": "shop", "credential_id": credential_id,
              "provision_input": {"cloud_service_code": "digitalocean-droplet",
                                  "settings": {"region": "nyc1", "cidr_block": "10.30.0.0/16"}}},
    )
    assert r.status_code == 201, r.text
    network_id, network_action = r.json()["id"], r.headers["X-Devopness-Action-Id"]
    # At once, while the network's creation is still running.
    r = await client.post(
        f"/networks/{network_id}/subnets", headers=tenant.headers,
        json={"name": "web", "type": "public", "credential_id": credential_id,
              "provision_input": {"settings": {"region": "nyc1", "cidr_block": "10.30.1.0/24"}}},
    )
    assert r.status_code == 201, r.text
    subnet_id, subnet_action = r.json()["id"], r.headers["X-Devopness-Action-Id"]
    done = []
    for action_id in (subnet_action, network_action):
        r = await client.get(f"/actions/{action_id}", params={"wait": 60},
                             headers=tenant.headers)
        assert r.status_code == 200, r.text
        done.append(r.json())
    return network_id, done[1], subnet_id, done[0]


async def _log(client: httpx.AsyncClient, tenant: fc.Tenant, action: dict[str, Any]) -> str:
    target = action["targets"][0]["id"]
    r = await client.get(f"/actions/{action['id']}/targets/{target}/steps/1/logs",
                         headers=tenant.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["step"]["output"])


async def test_subnet_waits_for_its_network(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, cloud: DigitalOceanStandIn,
) -> None:
    cloud.vpc_delay = 1.5
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant, provider_code="digitalocean",
                                            values={"api_token": TOKEN})
    network_id, network_action, subnet_id, subnet_action = await _network_then_subnet(
        client, tenant, credential.id)
    assert network_action["status"] == "completed"
    assert subnet_action["status"] == "completed", subnet_action["status_reason_human_readable"]
    assert "Waiting for the network" in await _log(client, tenant, subnet_action)
    [vpc] = cloud.vpcs.values()
    network = await db.get(Network, network_id, populate_existing=True)
    subnet = await db.get(Subnet, subnet_id, populate_existing=True)
    assert network is not None and subnet is not None
    assert network.provider_id == vpc["id"] and subnet.provider_id == vpc["id"]


async def test_subnet_fails_clearly_when_its_network_was_not_created(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, cloud: DigitalOceanStandIn,
) -> None:
    cloud.vpc_delay, cloud.fail_vpc_create = 1.0, True
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant, provider_code="digitalocean",
                                            values={"api_token": TOKEN})
    _, network_action, subnet_id, subnet_action = await _network_then_subnet(
        client, tenant, credential.id)
    assert network_action["status"] == "failed"
    assert subnet_action["status"] == "failed"
    assert "network is not created at the provider" in await _log(client, tenant, subnet_action)
    subnet = await db.get(Subnet, subnet_id, populate_existing=True)
    assert subnet is not None and subnet.provider_id is None
    assert cloud.vpcs == {}


async def test_subnet_stops_waiting_after_the_limit(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, cloud: DigitalOceanStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "cloud_network_wait_seconds", 0.6)
    cloud.vpc_delay = 3.0
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant, provider_code="digitalocean",
                                            values={"api_token": TOKEN})
    _, network_action, _, subnet_action = await _network_then_subnet(
        client, tenant, credential.id)
    assert subnet_action["status"] == "failed"
    assert "still being created" in await _log(client, tenant, subnet_action)
    assert network_action["status"] == "completed"  # the network itself is fine

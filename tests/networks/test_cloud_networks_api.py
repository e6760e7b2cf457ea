"""Networks and subnets at Hetzner Cloud, Google Cloud and Azure through the API: the
actions create, read and delete them through each provider's real SDK against its
loopback stand-in (tests/cloud/*_standin.py), as tests/networks/test_router.py does for
AWS (moto) and tests/remote/test_cloud_servers.py for DigitalOcean."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from app.networks.models import Network, Subnet
from tests import factories_credentials as fc
from tests.cloud import azure_standin, gcp_standin, hetzner_standin
from tests.conftest import free_port
from tests.remote.cloud_loopback import wait_action
from tests.standins import serve

NAME = "shop-net"


@dataclass(frozen=True)
class HeldNetwork:
    name: str
    cidr: str | None
    row_id: str | None  # the devopness-network-id tag the provider keeps with it


@dataclass(frozen=True)
class HeldSubnet:
    cidr: str
    network: str  # the provider id of the network it belongs to
    where: str  # Hetzner network zone, Google region, Azure location


class Cloud(ABC):
    """One provider's stand-in, and what the tests send it and read back from it."""

    code: str  # cloud_service_code
    provider_code: str  # the credential's provider
    url_fixture: str
    region: str
    network_cidr: str | None  # Google networks carry no range
    subnet_cidr: str
    subnet_where: str
    rejection: str  # what the refusal of `rejected_values` says

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def point(self, settings: Settings, monkeypatch: pytest.MonkeyPatch, url: str) -> None: ...

    @abstractmethod
    def values(self) -> dict[str, str]: ...

    @abstractmethod
    def rejected_values(self) -> dict[str, str]: ...

    @abstractmethod
    def network(self, provider_id: str) -> HeldNetwork | None: ...

    @abstractmethod
    def subnet(self, network_id: str, subnet_id: str) -> HeldSubnet | None: ...

    @abstractmethod
    def network_reads(self, provider_id: str) -> int: ...

    @abstractmethod
    def holds_nothing(self) -> bool: ...

    def failures(self) -> list[str]:
        """Requests of ours the stand-in found wrong."""
        return []


class Hetzner(Cloud):
    code, provider_code, url_fixture = "hetzner-hcloud", "hetzner", "hetzner_url"
    region, network_cidr, subnet_cidr, subnet_where = (
        "fsn1", "10.40.0.0/16", "10.40.1.0/24", "eu-central")
    rejection = "only allowed to perform GET"

    def __init__(self, standin: hetzner_standin.HetznerStandIn) -> None:
        self.standin = standin

    def reset(self) -> None:
        self.standin.reset()

    def point(self, settings: Settings, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
        monkeypatch.setattr(settings, "hetzner_api_url", f"{url}/v1")

    def values(self) -> dict[str, str]:
        return {"api_token": hetzner_standin.TOKEN}

    def rejected_values(self) -> dict[str, str]:
        return {"api_token": hetzner_standin.READ_ONLY_TOKEN}

    def network(self, provider_id: str) -> HeldNetwork | None:
        held = self.standin.networks.get(int(provider_id))
        if held is None:
            return None
        return HeldNetwork(held["name"], held["ip_range"],
                           held["labels"].get("devopness-network-id"))

    def subnet(self, network_id: str, subnet_id: str) -> HeldSubnet | None:
        network = self.standin.networks.get(int(network_id), {"subnets": []})
        for held in network["subnets"]:
            if held["ip_range"] == subnet_id:
                return HeldSubnet(held["ip_range"], network_id, held["network_zone"])
        return None

    def network_reads(self, provider_id: str) -> int:
        return self.standin.requests.count(("GET", f"/v1/networks/{provider_id}", None))

    def holds_nothing(self) -> bool:
        return not self.standin.networks


class Google(Cloud):
    code, provider_code, url_fixture = "gcp-gce", "gcp", "gcp_url"
    region, network_cidr, subnet_cidr, subnet_where = (
        "us-central1", None, "10.41.1.0/24", "us-central1")
    rejection = "401"

    def __init__(self, standin: gcp_standin.GceStandIn, private_pem: str) -> None:
        self.standin, self.private_pem = standin, private_pem

    def reset(self) -> None:
        self.standin.reset()

    def point(self, settings: Settings, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
        monkeypatch.setattr(settings, "gcp_compute_url", f"{url}/compute/v1")
        monkeypatch.setattr(settings, "gcp_token_url", f"{url}/token")

    def values(self) -> dict[str, str]:
        return {"service_account_key": self.standin.key_json(self.private_pem)}

    def rejected_values(self) -> dict[str, str]:
        # A key of the same service account that Google does not know.
        foreign_pem, _ = gcp_standin.new_key()
        return {"service_account_key": self.standin.key_json(foreign_pem)}

    def network(self, provider_id: str) -> HeldNetwork | None:
        held = self.standin.networks.get(provider_id)
        if held is None:
            return None
        # Google networks take no labels: the tags are in the description.
        tags = dict(item.split("=", 1) for item in held.get("description", "").split(", ")
                    if "=" in item)
        return HeldNetwork(held["name"], None, tags.get("devopness-network-id"))

    def subnet(self, network_id: str, subnet_id: str) -> HeldSubnet | None:
        region, _, name = subnet_id.partition("/")
        held = self.standin.subnets.get((region, name))
        if held is None:
            return None
        return HeldSubnet(held["ipCidrRange"], held["network"].rsplit("/", 1)[-1],
                          held["region"].rsplit("/", 1)[-1])

    def network_reads(self, provider_id: str) -> int:
        return sum(1 for method, path, _ in self.standin.requests
                   if method == "GET" and path.endswith(f"/global/networks/{provider_id}"))

    def holds_nothing(self) -> bool:
        return not self.standin.networks and not self.standin.subnets

    def failures(self) -> list[str]:
        return list(self.standin.failures)


class Azure(Cloud):
    code, provider_code, url_fixture = "azure-rm", "azure", "azure_url"
    region, network_cidr, subnet_cidr, subnet_where = (
        "eastus", "10.42.0.0/16", "10.42.1.0/24", "eastus")
    rejection = "AuthorizationFailed"

    def __init__(self, standin: azure_standin.AzureStandIn) -> None:
        self.standin = standin

    def reset(self) -> None:
        self.standin.reset()
        # Operations finish at their first poll (see tests/remote/test_cloud_servers_azure.py).
        self.standin.polls = 0

    def point(self, settings: Settings, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
        monkeypatch.setattr(settings, "azure_login_url", self.standin.login_url)
        monkeypatch.setattr(settings, "azure_management_url", self.standin.management_url)

    def values(self) -> dict[str, str]:
        return azure_standin.credential()

    def rejected_values(self) -> dict[str, str]:
        # The service principal has no rights on this subscription.
        return azure_standin.credential(subscription_id=azure_standin.NO_RIGHTS_SUBSCRIPTION)

    def network(self, provider_id: str) -> HeldNetwork | None:
        held = self.standin.resources.get(provider_id.lower())
        if held is None:
            return None
        [cidr] = held["properties"]["addressSpace"]["addressPrefixes"]
        return HeldNetwork(held["name"], cidr, held["tags"].get("devopness-network-id"))

    def subnet(self, network_id: str, subnet_id: str) -> HeldSubnet | None:
        held = self.standin.resources.get(subnet_id.lower())
        if held is None:
            return None
        vnet_id = held["id"].rsplit("/subnets/", 1)[0]
        vnet = self.standin.resources[vnet_id.lower()]
        return HeldSubnet(held["properties"]["addressPrefix"], vnet_id, vnet["location"])

    def network_reads(self, provider_id: str) -> int:
        return sum(1 for method, path, _ in self.standin.requests
                   if method == "GET" and path.lower() == provider_id.lower())

    def holds_nothing(self) -> bool:
        return not self.standin.groups and not self.standin.resources

    def failures(self) -> list[str]:
        return list(self.standin.failures)


_HETZNER = hetzner_standin.HetznerStandIn()
_GCP_PEM, _GCP_PUBLIC = gcp_standin.new_key()
_GCE = gcp_standin.GceStandIn(public_key=_GCP_PUBLIC)
_AZURE = azure_standin.AzureStandIn()
_CLOUDS: dict[str, Cloud] = {
    "hetzner": Hetzner(_HETZNER), "gcp": Google(_GCE, _GCP_PEM), "azure": Azure(_AZURE),
}


@pytest.fixture(scope="module")
def hetzner_url() -> Iterator[str]:
    with serve(_HETZNER.app(), free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def gcp_url() -> Iterator[str]:
    with serve(gcp_standin.build_app(_GCE), free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def azure_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cert, key = azure_standin.self_signed_certificate(
        Path(tmp_path_factory.mktemp("azure-tls")))
    with pytest.MonkeyPatch.context() as patch, \
            azure_standin.serve_tls(azure_standin.build_app(_AZURE), free_port(), cert,
                                    key) as url:
        # requests (under the SDK and MSAL) verifies TLS against this bundle only.
        patch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        _AZURE.base = url
        yield url


@pytest.fixture(params=list(_CLOUDS))
def cloud(request: pytest.FixtureRequest, settings: Settings,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    chosen = _CLOUDS[request.param]
    url = request.getfixturevalue(chosen.url_fixture)
    chosen.reset()
    chosen.point(settings, monkeypatch, url)
    monkeypatch.setattr(settings, "provider_timeout_seconds", 5.0)
    yield chosen
    assert chosen.failures() == []


def _network_body(cloud: Cloud, credential_id: int) -> dict[str, Any]:
    settings: dict[str, Any] = {"region": cloud.region}
    if cloud.network_cidr:
        settings["cidr_block"] = cloud.network_cidr
    return {"name": NAME, "credential_id": credential_id,
            "provision_input": {"cloud_service_code": cloud.code, "settings": settings}}


def _subnet_body(cloud: Cloud, credential_id: int) -> dict[str, Any]:
    return {"name": "web", "type": "public", "credential_id": credential_id,
            "provision_input": {"settings": {"region": cloud.region,
                                             "cidr_block": cloud.subnet_cidr}}}


async def _completed(client: httpx.AsyncClient, tenant: fc.Tenant,
                     started: httpx.Response) -> dict[str, Any]:
    assert started.status_code in (201, 204), started.text
    action = await wait_action(client, tenant, started)
    assert action["status"] == "completed", action["status_reason_human_readable"]
    return action


async def _provider_id(db: AsyncSession, model: type[Network] | type[Subnet],
                       row_id: int) -> str:
    row: Network | Subnet | None = await db.get(model, row_id, populate_existing=True)
    assert row is not None and row.provider_id, row
    return row.provider_id


async def test_network_and_subnet_lifecycle(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, cloud: Cloud,
) -> None:
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant,
                                            provider_code=cloud.provider_code,
                                            values=cloud.values())
    r = await client.post(f"/environments/{tenant.environment.id}/networks",
                          json=_network_body(cloud, credential.id), headers=tenant.headers)
    assert r.status_code == 201, r.text
    network_id = int(r.json()["id"])
    created = await _completed(client, tenant, r)
    assert created["targets"][0]["resource_type"] == "network"
    network_pid = await _provider_id(db, Network, network_id)
    assert cloud.network(network_pid) == HeldNetwork(NAME, cloud.network_cidr, str(network_id))

    r = await client.post(f"/networks/{network_id}/subnets",
                          json=_subnet_body(cloud, credential.id), headers=tenant.headers)
    assert r.status_code == 201, r.text
    subnet_id = int(r.json()["id"])
    await _completed(client, tenant, r)
    subnet_pid = await _provider_id(db, Subnet, subnet_id)
    assert cloud.subnet(network_pid, subnet_pid) == HeldSubnet(
        cloud.subnet_cidr, network_pid, cloud.subnet_where)

    reads = cloud.network_reads(network_pid)
    r = await client.post(f"/networks/{network_id}/get-status", headers=tenant.headers)
    await _completed(client, tenant, r)
    assert cloud.network_reads(network_pid) > reads  # it asked the provider

    stranger = await fc.create_tenant(db)
    for method, url in (("GET", f"/networks/{network_id}"), ("GET", f"/subnets/{subnet_id}"),
                        ("POST", f"/networks/{network_id}/get-status"),
                        ("DELETE", f"/subnets/{subnet_id}"),
                        ("DELETE", f"/networks/{network_id}")):
        r = await client.request(method, url, headers=stranger.headers)
        assert r.status_code == 404, (method, url, r.text)
    assert cloud.subnet(network_pid, subnet_pid) is not None

    r = await client.delete(f"/subnets/{subnet_id}", headers=tenant.headers)
    await _completed(client, tenant, r)
    assert cloud.subnet(network_pid, subnet_pid) is None
    assert cloud.network(network_pid) is not None
    assert await db.get(Subnet, subnet_id, populate_existing=True) is None
    assert (await client.get(f"/subnets/{subnet_id}", headers=tenant.headers)).status_code == 404

    r = await client.delete(f"/networks/{network_id}", headers=tenant.headers)
    deleted = await _completed(client, tenant, r)
    assert deleted["type"] == "delete"
    assert cloud.holds_nothing()
    assert await db.get(Network, network_id, populate_existing=True) is None
    r = await client.get(f"/networks/{network_id}", headers=tenant.headers)
    assert r.status_code == 404


async def test_rejected_credential_fails_and_records_nothing(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, cloud: Cloud,
) -> None:
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant,
                                            provider_code=cloud.provider_code,
                                            values=cloud.rejected_values())
    r = await client.post(f"/environments/{tenant.environment.id}/networks",
                          json=_network_body(cloud, credential.id), headers=tenant.headers)
    assert r.status_code == 201, r.text
    network_id = int(r.json()["id"])
    action = await wait_action(client, tenant, r)
    assert action["status"] == "failed"
    reason = action["status_reason_human_readable"]
    assert "did not create the network" in reason, reason
    assert "rejected the credential" in reason and cloud.rejection in reason, reason
    network = await db.get(Network, network_id, populate_existing=True)
    assert network is not None and network.provider_id is None
    assert cloud.holds_nothing()
    # Nothing exists at the provider: the record goes at once, with no action.
    r = await client.delete(f"/networks/{network_id}", headers=tenant.headers)
    assert r.status_code == 204, r.text
    assert "X-Devopness-Action-Id" not in r.headers
    assert await db.get(Network, network_id, populate_existing=True) is None

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from app.credentials.models import Credential
from app.networks.models import Network, Subnet
from app.resource_links.models import ResourceLink
from tests.factories import create_environment
from tests.factories_credentials import Tenant, create_credential, create_network, create_tenant


def network_body(credential_id: int, **settings: Any) -> dict[str, Any]:
    return {
        "name": "main-vpc",
        "credential_id": credential_id,
        "provision_input": {
            "cloud_service_code": "aws-ec2",
            "settings": {"region": "us-east-1", "cidr_block": "10.0.0.0/16", **settings},
        },
    }


def subnet_body(credential_id: int, cidr: str, name: str = "public-a", **settings: Any) -> dict:
    return {
        "name": name, "type": "public", "credential_id": credential_id,
        "provision_input": {"settings": {"zone": "us-east-1a", "cidr_block": cidr, **settings}},
    }


async def _aws(db: AsyncSession, settings: Settings) -> tuple[Tenant, int]:
    tenant = await create_tenant(db)
    credential = await create_credential(db, settings, tenant)
    return tenant, credential.id


async def test_network_with_two_subnets(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, count_queries: Any,
    idle: Any,
) -> None:
    tenant, credential_id = await _aws(db, settings)
    r = await client.post(f"/environments/{tenant.environment.id}/networks",
                          json=network_body(credential_id), headers=tenant.headers)
    assert r.status_code == 201, r.text
    network = r.json()
    assert network["provider_name"] == "aws"
    assert network["provision_input"]["settings"]["cidr_block"] == "10.0.0.0/16"
    assert network["provision_input"]["settings"]["region_human_readable"].startswith("US East")
    assert network["credential"]["id"] == credential_id
    assert network["environment"]["id"] == tenant.environment.id
    assert network["project"]["id"] == tenant.project.id
    await idle()  # subnets go into the network once it exists at the provider

    base = f"/networks/{network['id']}/subnets"
    r = await client.post(base, json=subnet_body(credential_id, "10.0.1.0/24"),
                          headers=tenant.headers)
    assert r.status_code == 201, r.text
    assert r.json()["network"]["id"] == network["id"]
    assert r.json()["provision_input"]["settings"]["zone"] == "us-east-1a"
    r = await client.post(base, json=subnet_body(credential_id, "10.0.2.0/24", "public-b",
                                                 zone="us-east-1b"), headers=tenant.headers)
    assert r.status_code == 201, r.text
    subnet_id = r.json()["id"]
    # Each was created at the provider (moto) by its own action.
    await idle()
    network_row = await db.get(Network, network["id"], populate_existing=True)
    assert network_row is not None and (network_row.provider_id or "").startswith("us-east-1/vpc-")
    subnet_rows = (await db.scalars(select(Subnet).execution_options(populate_existing=True))).all()
    assert all((s.provider_id or "").startswith("us-east-1/subnet-") for s in subnet_rows)

    await client.get(base, headers=tenant.headers)
    with count_queries() as few:
        r = await client.get(base, headers=tenant.headers, params={"per_page": 1})
    with count_queries() as many:
        r = await client.get(base, headers=tenant.headers)
    assert [s["name"] for s in r.json()] == ["public-a", "public-b"]
    assert many.count == few.count
    r = await client.get(f"/environments/{tenant.environment.id}/subnets", headers=tenant.headers)
    assert len(r.json()) == 2
    r = await client.get(base, headers=tenant.headers, params={"zone": "us-east-1b"})
    assert [s["name"] for s in r.json()] == ["public-b"]
    r = await client.get(f"/subnets/{subnet_id}", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["network"]["name"] == "main-vpc"

    # The server keeps each subnet linked under its network.
    r = await client.get(f"/resource-links/network/{network['id']}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert sorted(link["resource_id"] for link in r.json()) == sorted(
        (await db.scalars(select(Subnet.id))).all()
    )
    assert all(link["link_type"] == "child" and not link["can_be_unlinked"] for link in r.json())

    r = await client.get(f"/environments/{tenant.environment.id}/networks", headers=tenant.headers)
    assert [n["name"] for n in r.json()] == ["main-vpc"]
    r = await client.get(f"/environments/{tenant.environment.id}/networks",
                         headers=tenant.headers, params={"region": "eu-west-1"})
    assert r.json() == []

    r = await client.delete(f"/networks/{network['id']}", headers=tenant.headers)
    assert r.status_code == 409
    for subnet in (await db.scalars(select(Subnet.id))).all():
        r = await client.delete(f"/subnets/{subnet}", headers=tenant.headers)
        assert r.status_code == 204
        assert r.headers["X-Devopness-Action-Id"]  # deleted at the provider first
    await idle()
    assert not (await db.scalars(select(Subnet.id))).all()
    r = await client.delete(f"/networks/{network['id']}", headers=tenant.headers)
    assert r.status_code == 204
    action = await client.get(f"/actions/{r.headers['X-Devopness-Action-Id']}",
                              params={"wait": 60}, headers=tenant.headers)
    assert action.json()["status"] == "completed", action.json()
    assert action.json()["targets"][0]["resource_type"] == "network"
    assert not (await db.scalars(select(ResourceLink))).all()
    assert not (await db.scalars(select(Network.id))).all()
    r = await client.get(f"/events/network/{network['id']}", headers=tenant.headers)
    assert r.status_code == 404  # the network is gone: its history answers 404 too


async def test_cidr_rules(client: httpx.AsyncClient, db: AsyncSession, settings: Settings) -> None:
    tenant, credential_id = await _aws(db, settings)
    url = f"/environments/{tenant.environment.id}/networks"
    for cidr in ["10.0.0.1/16", "8.8.8.0/24", "10.0.0.0/8", "10.0.0.0/30", "banana",
                 "fd00::/48"]:
        r = await client.post(url, json=network_body(credential_id, cidr_block=cidr),
                              headers=tenant.headers)
        assert r.status_code == 422, (cidr, r.text)
        assert "provision_input.settings.cidr_block" in r.json()["errors"]
    r = await client.post(url, json=network_body(credential_id, region="mars-1"),
                          headers=tenant.headers)
    assert r.status_code == 422 and "provision_input.settings.region" in r.json()["errors"]
    r = await client.post(url, json={**network_body(credential_id), "name": "default"},
                          headers=tenant.headers)
    assert r.status_code == 422 and "name" in r.json()["errors"]

    network = await create_network(db, tenant, await db.get_one(Credential, credential_id))
    base = f"/networks/{network.id}/subnets"
    r = await client.post(base, json=subnet_body(credential_id, "10.0.0.0/20"),
                          headers=tenant.headers)
    assert r.status_code == 201, r.text
    bad = [
        ("10.1.0.0/24", "inside the network"),       # outside 10.0.0.0/16
        ("10.0.8.0/24", "overlaps subnet"),          # inside 10.0.0.0/20
        ("10.0.0.0/16", "overlaps subnet"),          # the whole network
        ("10.0.32.0/30", "prefix"),                  # too small
        ("10.0.32.1/24", "host bits"),
    ]
    for cidr, message in bad:
        r = await client.post(base, json=subnet_body(credential_id, cidr, f"s-{cidr[:9]}"),
                              headers=tenant.headers)
        assert r.status_code == 422, (cidr, r.text)
        assert message in r.json()["errors"]["provision_input.settings.cidr_block"][0], r.json()
    r = await client.post(base, json=subnet_body(credential_id, "10.0.64.0/24", zone="eu-west-1a"),
                          headers=tenant.headers)
    assert r.status_code == 422 and "provision_input.settings.zone" in r.json()["errors"]
    r = await client.post(base, json=subnet_body(credential_id, "10.0.64.0/24", name="public-a"),
                          headers=tenant.headers)
    assert r.status_code == 422 and "name" in r.json()["errors"]
    assert len((await db.scalars(select(Subnet))).all()) == 1


async def test_credential_must_fit_the_network(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    tenant, _ = await _aws(db, settings)
    url = f"/environments/{tenant.environment.id}/networks"
    unlinked = await create_credential(db, settings, tenant, link=False)
    github = await create_credential(db, settings, tenant, provider_code="github",
                                     values={"access_token": "t"})
    hetzner = await create_credential(db, settings, tenant, provider_code="hetzner",
                                      values={"api_token": "t"})
    stranger = await create_tenant(db)
    foreign = await create_credential(db, settings, stranger)
    for cid in (unlinked.id, github.id, hetzner.id, foreign.id, 999999):
        r = await client.post(url, json=network_body(cid), headers=tenant.headers)
        assert r.status_code == 422 and "credential_id" in r.json()["errors"], (cid, r.text)
    r = await client.post(url, json={**network_body(hetzner.id), "provision_input": {
        "cloud_service_code": "hetzner-hcloud",
        "settings": {"region": "fsn1", "cidr_block": "10.10.0.0/16"}}}, headers=tenant.headers)
    assert r.status_code == 201, r.text
    # Google networks are global and carry no range of their own.
    gcp = await create_credential(db, settings, tenant, provider_code="gcp",
                                  values={"service_account_key": "{}"})
    r = await client.post(url, json={**network_body(gcp.id), "name": "g", "provision_input": {
        "cloud_service_code": "gcp-gce", "settings": {"region": "us-central1"}}},
        headers=tenant.headers)
    assert r.status_code == 201, r.text
    assert "cidr_block" not in r.json()["provision_input"]["settings"]


async def test_update_status_and_tenancy(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    tenant, credential_id = await _aws(db, settings)
    credential = await create_credential(db, settings, tenant)
    assert credential.id != credential_id
    network = await create_network(
        db, tenant, await create_credential(db, settings, tenant)
    )
    url = f"/networks/{network.id}"
    r = await client.put(url, json={"id": network.id, "credential_id": credential.id},
                         headers=tenant.headers)
    assert r.status_code == 204, r.text
    await db.refresh(network)
    assert network.credential_id == credential.id
    r = await client.put(url, json={"id": network.id + 1, "credential_id": credential.id},
                         headers=tenant.headers)
    assert r.status_code == 422
    r = await client.post(f"{url}/get-status", headers=tenant.headers)
    assert r.status_code == 204
    status = await client.get(f"/actions/{r.headers['X-Devopness-Action-Id']}",
                              params={"wait": 60}, headers=tenant.headers)
    # This network was never created at the provider: get-status says so.
    assert status.json()["status"] == "failed"
    assert "not created at the provider" in status.json()["status_reason_human_readable"]
    r = await client.get(f"/events/network/{network.id}", headers=tenant.headers)
    [event] = r.json()
    assert event["event_type"] == "updated"
    assert event["changes"]["credential_id"]["after"] == credential.id

    stranger = await create_tenant(db)
    h = stranger.headers
    assert (await client.get(url, headers=h)).status_code == 404
    assert (await client.delete(url, headers=h)).status_code == 404
    assert (await client.get(f"{url}/subnets", headers=h)).status_code == 404
    r = await client.get(f"/environments/{tenant.environment.id}/networks", headers=h)
    assert r.status_code == 404
    r = await client.post(f"{url}/subnets", json=subnet_body(credential_id, "10.0.1.0/24"),
                          headers=h)
    assert r.status_code == 404
    # Networks keep their environment from being deleted.
    r = await client.delete(f"/environments/{tenant.environment.id}", headers=tenant.headers)
    assert r.status_code == 409
    other = await create_environment(db, tenant.project)
    assert (await db.scalars(select(Network).where(Network.environment_id == other.id))).all() == []


async def test_network_and_event_lists_do_not_grow_queries(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, count_queries: Any,
    idle: Any,
) -> None:
    tenant, credential_id = await _aws(db, settings)
    url = f"/environments/{tenant.environment.id}/networks"
    for i in range(3):
        r = await client.post(url, headers=tenant.headers, json={
            **network_body(credential_id, cidr_block=f"10.{i}.0.0/16"), "name": f"vpc-{i}"})
        assert r.status_code == 201, r.text
        await client.put(f"/networks/{r.json()['id']}", headers=tenant.headers,
                         json={"id": r.json()["id"], "credential_id": credential_id})
    network_id = r.json()["id"]
    await idle()
    for list_url in (url, f"/events/network/{network_id}"):
        await client.get(list_url, headers=tenant.headers)
        with count_queries() as few:
            r = await client.get(list_url, headers=tenant.headers, params={"per_page": 1})
        with count_queries() as many:
            r = await client.get(list_url, headers=tenant.headers)
        assert len(r.json()) > 1 and many.count == few.count, list_url


async def test_a_creator_that_is_gone_is_answered_as_zero(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    tenant, credential_id = await _aws(db, settings)
    network = await create_network(db, tenant, await db.get_one(Credential, credential_id),
                                   created_by=None)
    db.add(Subnet(network_id=network.id, environment_id=tenant.environment.id,
                  project_id=tenant.project.id, credential_id=credential_id, name="orphan",
                  cidr_block="10.0.9.0/24", created_by=None))
    await db.commit()
    r = await client.get(f"/environments/{tenant.environment.id}/networks",
                         headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert [n["created_by"] for n in r.json()] == [0]
    r = await client.get(f"/environments/{tenant.environment.id}/subnets",
                         headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert [s["created_by"] for s in r.json()] == [0]

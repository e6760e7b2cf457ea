from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from app.resource_links.registry import register_link_rule, unregister_link_rule
from tests.factories import create_environment
from tests.factories_credentials import create_credential, create_network, create_tenant


@pytest.fixture
def network_peering() -> Iterator[None]:
    """A link rule as other domains declare them (servers under networks, and so on)."""
    register_link_rule("network", "network")
    yield
    unregister_link_rule("network", "network")


async def test_link_list_and_unlink(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, network_peering: None,
    count_queries: Any,
) -> None:
    tenant = await create_tenant(db)
    credential = await create_credential(db, settings, tenant)
    hub = await create_network(db, tenant, credential, name="hub")
    spokes = [await create_network(db, tenant, credential, name=f"spoke-{i}",
                                   cidr_block=f"10.{i}.0.0/16") for i in range(1, 4)]
    for spoke in spokes:
        r = await client.post(f"/resource-links/network/{hub.id}/network/{spoke.id}/link",
                              headers=tenant.headers)
        assert r.status_code == 204, r.text
    r = await client.post(f"/resource-links/network/{hub.id}/network/{spokes[0].id}/link",
                          headers=tenant.headers)
    assert r.status_code == 422

    url = f"/resource-links/network/{hub.id}"
    with count_queries() as few:
        r = await client.get(url, headers=tenant.headers, params={"per_page": 1})
    with count_queries() as many:
        r = await client.get(url, headers=tenant.headers)
    assert many.count == few.count
    links = r.json()
    assert [link["linked_resource_data"]["name"] for link in links] == [
        "spoke-1", "spoke-2", "spoke-3"
    ]
    first = links[0]
    assert first["link_type"] == "child" and first["can_be_unlinked"] is True
    assert first["resource_type_human_readable"] == "Network"
    assert first["linked_resource_data"]["environment_id"] == tenant.environment.id
    assert first["linked_resource_data"]["project_name"] == tenant.project.name

    r = await client.get(f"/resource-links/network/{spokes[0].id}/parent",
                         headers=tenant.headers)
    assert [(link["resource_id"], link["link_type"]) for link in r.json()] == [(hub.id, "parent")]
    r = await client.get(f"/resource-links/network/{hub.id}/child", headers=tenant.headers,
                         params={"linked_resource_type": "subnet"})
    assert r.json() == []
    r = await client.get(f"/resource-links/network/{hub.id}/sideways", headers=tenant.headers)
    assert r.status_code == 422

    r = await client.delete(f"/resource-links/network/{hub.id}/network/{spokes[0].id}/unlink",
                            headers=tenant.headers)
    assert r.status_code == 204
    r = await client.delete(f"/resource-links/network/{hub.id}/network/{spokes[0].id}/unlink",
                            headers=tenant.headers)
    assert r.status_code == 404
    r = await client.get(f"/events/network/{hub.id}", headers=tenant.headers)
    assert [e["event_type"] for e in r.json()][:2] == ["unlinked", "linked"]


async def test_link_rules_and_tenancy(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, network_peering: None
) -> None:
    tenant = await create_tenant(db)
    credential = await create_credential(db, settings, tenant)
    network = await create_network(db, tenant, credential)
    # No rule lets a credential sit under a network.
    r = await client.post(f"/resource-links/network/{network.id}/credential/{credential.id}/link",
                          headers=tenant.headers)
    assert r.status_code == 422
    r = await client.post(f"/resource-links/server/{network.id}/network/{network.id}/link",
                          headers=tenant.headers)
    assert r.status_code == 404  # servers register themselves once their package is merged
    r = await client.post(f"/resource-links/network/{network.id}/network/{network.id}/link",
                          headers=tenant.headers)
    assert r.status_code == 422
    # Resources of two environments are not linked.
    elsewhere = await create_environment(db, tenant.project)
    tenant.environment = elsewhere
    other_network = await create_network(db, tenant, credential)
    r = await client.post(
        f"/resource-links/network/{network.id}/network/{other_network.id}/link",
        headers=tenant.headers,
    )
    assert r.status_code == 422
    stranger = await create_tenant(db)
    stranger_network = await create_network(
        db, stranger, await create_credential(db, settings, stranger)
    )
    for url in (
        f"/resource-links/network/{network.id}",
        f"/resource-links/network/{network.id}/child",
    ):
        assert (await client.get(url, headers=stranger.headers)).status_code == 404
    r = await client.post(
        f"/resource-links/network/{stranger_network.id}/network/{network.id}/link",
        headers=stranger.headers,
    )
    assert r.status_code == 404


async def test_events_endpoints(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    tenant = await create_tenant(db)
    credential = await create_credential(db, settings, tenant)
    r = await client.post(f"/events/credential/{credential.id}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resource_type"] == "credential" and body["resource_id"] == credential.id
    assert body["resource_data"]["status"] == "active"
    r = await client.get(f"/events/credential/{credential.id}", headers=tenant.headers)
    [event] = r.json()
    assert event["event_type"] == "processed" and event["triggered_by"] == tenant.user.id
    assert event["token_id"] is not None and event["principal_kind"] == "personal_access_token"
    assert (await client.get("/events/planet/1", headers=tenant.headers)).status_code == 404
    assert (await client.post("/events/credential/abc", headers=tenant.headers)).status_code == 404

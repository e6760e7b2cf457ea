from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.network_rules.models import NetworkRule
from tests import resource_factories as f


def body(**overrides: Any) -> dict[str, Any]:
    return {"name": "mysql from office", "direction": "inbound", "protocol": "tcp",
            "port": 3306, "cidr_block": "203.0.113.7/24"} | overrides


async def test_create_normalises_the_cidr(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/network-rules", json=body(),
                          headers=t.headers)
    assert r.status_code == 201, r.text
    assert r.json()["cidr_block"] == "203.0.113.0/24"
    stored = await db.get(NetworkRule, r.json()["id"])
    assert stored is not None and stored.port == 3306


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"port": 0}, "port"),
        ({"port": 65536}, "port"),
        ({"port": None}, "port"),
        ({"direction": "sideways"}, "direction"),
        ({"protocol": "sctp"}, "protocol"),
        ({"cidr_block": "10.0.0.0/33"}, "cidr_block"),
        ({"cidr_block": "anywhere"}, "cidr_block"),
        ({"name": "ab"}, "name"),
        ({"name": "x" * 61}, "name"),
    ],
)
async def test_field_rules(
    overrides: dict[str, Any], field: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/network-rules",
                          json=body(**overrides), headers=t.headers)
    assert field in f.field_errors(r), r.json()


async def test_update(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    rule = await f.create_network_rule(db, t)
    r = await client.put(f"/network-rules/{rule.id}",
                         json={"id": rule.id, "name": "ssh only", "direction": "inbound",
                               "protocol": "udp", "cidr_block": "10.1.0.0/16"},
                         headers=t.headers)
    assert r.status_code == 204
    await db.refresh(rule)
    assert (rule.name, rule.protocol, rule.cidr_block, rule.port) == (
        "ssh only", "udp", "10.1.0.0/16", 443)
    r = await client.put(f"/network-rules/{rule.id}",
                         json={"id": rule.id, "name": "x", "direction": "up",
                               "cidr_block": "nope"}, headers=t.headers)
    assert {"name", "direction", "cidr_block"} <= set(f.field_errors(r))

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.resource_factories import create_tenant

BODY = {
    "hostname": "web-1",
    "ip_address": "192.0.2.10",
    "ssh_port": 2222,
    "provision_input": {
        "cloud_service_code": "self-hosted-custom",
        "settings": {"os_version_code": "ubuntu_24_04"},
    },
}


async def test_create_and_get(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/servers", json=BODY,
                          headers=t.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    r = await client.get(f"/servers/{body['id']}", headers=t.headers)
    assert r.status_code == 200, r.text
    r = await client.get(f"/environments/{t.environment.id}/servers", headers=t.headers)
    assert r.status_code == 200, r.text

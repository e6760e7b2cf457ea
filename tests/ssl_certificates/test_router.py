from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import SecretBox
from app.core.settings import Settings
from app.ssl_certificates.models import SslCertificate
from tests import resource_factories as f
from tests.resources_common.test_validators import make_certificate


async def test_custom_certificate_is_stored_with_the_key_sealed(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    t = await f.create_tenant(db)
    host = await f.create_virtual_host(db, t, name="shop.example.com")
    cert, key = make_certificate("shop.example.com")
    r = await client.post(
        f"/environments/{t.environment.id}/ssl-certificates",
        json={"virtual_host_id": host.id, "issuer": "custom", "custom_certificate": cert,
              "custom_private_key": key},
        headers=t.headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["active"] is True and created["name"] == "shop.example.com"
    assert created["expires_at"] is not None
    assert "custom_private_key" not in r.text and "PRIVATE KEY" not in r.text
    stored = await db.get(SslCertificate, created["id"])
    assert stored is not None and stored.custom_private_key_encrypted is not None
    assert "PRIVATE KEY" not in stored.custom_private_key_encrypted
    assert SecretBox(settings).decrypt(stored.custom_private_key_encrypted) == key.strip()
    # The virtual host now shows it and cannot be deleted before it.
    r = await client.get(f"/virtual-hosts/{host.id}", headers=t.headers)
    assert r.json()["ssl_certificate"]["id"] == created["id"]
    r = await client.delete(f"/virtual-hosts/{host.id}", headers=t.headers)
    assert r.status_code == 409 and "certificate" in r.json()["message"]


async def test_lets_encrypt_waits_for_issuance(client: httpx.AsyncClient, db: AsyncSession
                                               ) -> None:
    t = await f.create_tenant(db)
    host = await f.create_virtual_host(db, t)
    r = await client.post(f"/environments/{t.environment.id}/ssl-certificates",
                          json={"virtual_host_id": host.id, "issuer": "lets-encrypt"},
                          headers=t.headers)
    assert r.status_code == 201, r.text
    assert r.json()["active"] is False and r.json()["expires_at"] is None
    r = await client.post(f"/environments/{t.environment.id}/ssl-certificates",
                          json={"virtual_host_id": host.id, "issuer": "lets-encrypt"},
                          headers=t.headers)
    assert "virtual_host_id" in f.field_errors(r)


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("mismatched_key", "custom_private_key"),
        ("garbage_key", "custom_private_key"),
        ("garbage_certificate", "custom_certificate"),
        ("other_host", "custom_certificate"),
        ("missing_key", "custom_private_key"),
        ("short_certificate", "custom_certificate"),
        ("material_for_lets_encrypt", "custom_certificate"),
        ("unknown_issuer", "issuer"),
        ("unknown_type", "type"),
        ("unknown_level", "validation_level"),
        ("unknown_host", "virtual_host_id"),
        ("ip_based_host", "virtual_host_id"),
    ],
)
async def test_field_rules(
    case: str, field: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    host = await f.create_virtual_host(db, t, name="shop.example.com")
    cert, key = make_certificate("shop.example.com")
    payload: dict[str, Any] = {"virtual_host_id": host.id, "issuer": "custom",
                               "custom_certificate": cert, "custom_private_key": key}
    if case == "mismatched_key":
        payload["custom_private_key"] = make_certificate("shop.example.com")[1]
    elif case == "garbage_key":
        payload["custom_private_key"] = "-----BEGIN PRIVATE KEY-----\n" + "A" * 120
    elif case == "garbage_certificate":
        payload["custom_certificate"] = "-----BEGIN CERTIFICATE-----\n" + "B" * 120
    elif case == "other_host":
        payload["custom_certificate"], payload["custom_private_key"] = make_certificate(
            "evil.example.org")
    elif case == "missing_key":
        del payload["custom_private_key"]
    elif case == "short_certificate":
        payload["custom_certificate"] = "too short"
    elif case == "material_for_lets_encrypt":
        payload["issuer"] = "lets-encrypt"
    elif case == "unknown_issuer":
        payload["issuer"] = "acme-corp"
    elif case == "unknown_type":
        payload["type"] = "ultra"
    elif case == "unknown_level":
        payload["validation_level"] = "XV"
    elif case == "unknown_host":
        payload["virtual_host_id"] = 987654
    elif case == "ip_based_host":
        ip_host = await f.create_virtual_host(db, t, type="ip-based", name="10.0.0.9:8080")
        payload["virtual_host_id"] = ip_host.id
    r = await client.post(f"/environments/{t.environment.id}/ssl-certificates", json=payload,
                          headers=t.headers)
    assert field in f.field_errors(r), r.json()


async def test_deploy_targets_the_virtual_host_servers(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    certificate = await f.create_ssl_certificate(db, t)
    await f.link(db, "virtual-host", certificate.virtual_host_id, server)
    other = await f.create_server(db, t)
    r = await client.post(f"/ssl-certificates/{certificate.id}/deploy",
                          json={"servers": [other.id]}, headers=t.headers)
    assert "servers" in f.field_errors(r)
    r = await client.post(f"/ssl-certificates/{certificate.id}/deploy",
                          json={"servers": [server.id]}, headers=t.headers)
    await f.assert_action_started(
        client, r, t, resource_type="ssl-certificate", resource_id=certificate.id,
        operation="deploy", server_ids=[server.id],
    )

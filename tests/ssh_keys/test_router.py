from __future__ import annotations

import base64
import hashlib

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.ssh_keys.models import SshKey
from tests import resource_factories as f


async def test_fingerprint_is_computed_from_the_key(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    public, _ = f.ssh_keypair()
    r = await client.post(f"/environments/{t.environment.id}/ssh-keys",
                          json={"name": "laptop", "public_key": f"{public} me@laptop"},
                          headers=t.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    blob = base64.b64decode(public.split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    assert created["fingerprint"] == ":".join(digest[i:i + 2] for i in range(0, 32, 2))
    assert "public_key" not in created
    stored = await db.get(SshKey, created["id"])
    assert stored is not None and stored.public_key == public
    assert stored.fingerprint_sha256.startswith("SHA256:")
    # The same key twice in one environment is refused.
    r = await client.post(f"/environments/{t.environment.id}/ssh-keys",
                          json={"name": "again", "public_key": public}, headers=t.headers)
    assert "public_key" in f.field_errors(r)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "k", "public_key": "not a key"}, "public_key"),
        ({"name": "k", "public_key": "ssh-rsa AAAA"}, "public_key"),
        ({"name": "k", "public_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n"
                                     "-----END OPENSSH PRIVATE KEY-----"}, "public_key"),
        ({"name": "k"}, "public_key"),
        ({"name": "x" * 61, "public_key": "ssh-ed25519 AAAA"}, "name"),
        ({"name": "", "public_key": "ssh-ed25519 AAAA"}, "name"),
    ],
)
async def test_field_rules(
    payload: dict[str, str], field: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/ssh-keys", json=payload,
                          headers=t.headers)
    assert field in f.field_errors(r), r.json()


async def test_rename(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    key = await f.create_ssh_key(db, t)
    r = await client.put(f"/ssh-keys/{key.id}", json={"id": key.id, "name": "desk"},
                         headers=t.headers)
    assert r.status_code == 204
    r = await client.get(f"/ssh-keys/{key.id}", headers=t.headers)
    assert r.json()["name"] == "desk"
    r = await client.post(f"/ssh-keys/{key.id}/deploy", json={"servers": []},
                          headers=t.headers)
    assert "servers" in f.field_errors(r)
    server = await f.create_server(db, t)
    await f.link(db, "ssh-key", key.id, server)
    r = await client.post(f"/ssh-keys/{key.id}/deploy", json={"servers": [server.id]},
                          headers=t.headers)
    await f.assert_action_started(
        client, r, t, resource_type="ssh-key", resource_id=key.id, operation="deploy",
        server_ids=[server.id],
    )

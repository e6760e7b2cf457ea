"""A cloud server names the credential it was created with; clients read it back."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from tests import factories_credentials as fc
from tests import resource_factories as rf


async def test_server_returns_its_credential_and_never_a_foreign_one(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    t = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, t, name="cloud account")
    server = await rf.create_server(db, t, credential_id=credential.id)  # type: ignore[arg-type]
    r = await client.get(f"/servers/{server.id}", headers=t.headers)
    assert r.status_code == 200, r.text
    relation = r.json()["credential"]
    assert relation is not None, "GET /servers/{id} must return the credential relation"
    assert relation["id"] == credential.id and relation["name"] == "cloud account"
    assert "settings" not in relation

    theirs = await fc.create_tenant(db)
    foreign = await fc.create_credential(db, settings, theirs, name="their account")
    stale = await rf.create_server(db, t, credential_id=foreign.id)  # type: ignore[arg-type]
    r = await client.get(f"/servers/{stale.id}", headers=t.headers)
    assert r.status_code == 200, r.text
    assert r.json()["credential"] is None and "their account" not in r.text

"""An application names the credential its code is fetched with; clients read it back."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from tests import factories_credentials as fc


async def test_application_returns_its_credential(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    t = await fc.create_tenant(db)
    credential = await fc.create_credential(
        db, settings, t, provider_code="github", values={"access_token": "ghp_x"},
        auth_type="oauth", name="github deploys",
    )
    r = await client.post(
        f"/environments/{t.environment.id}/applications",
        json={"name": "storefront", "repository": "acme/storefront",
              "credential_id": credential.id, "programming_language": "php",
              "framework": "laravel", "engine_version": "8.3", "default_branch": "main"},
        headers=t.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["credential"]["id"] == credential.id

    r = await client.get(f"/applications/{r.json()['id']}", headers=t.headers)
    assert r.status_code == 200
    relation = r.json()["credential"]
    assert relation is not None, "GET /applications/{id} must return the credential relation"
    assert relation["id"] == credential.id
    assert relation["name"] == "github deploys"
    assert relation["provider"]["code"] == "github"
    assert relation["provider_type"] == "source_provider"
    assert relation["created_by_user"]["id"] == t.user.id
    assert "settings" not in relation and "ghp_x" not in r.text


async def test_a_credential_of_another_tenant_is_not_shown(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    mine = await fc.create_tenant(db)
    theirs = await fc.create_tenant(db)
    foreign = await fc.create_credential(db, settings, theirs, name="their secret name")
    r = await client.post(
        f"/environments/{mine.environment.id}/applications",
        json={"name": "storefront", "repository": "acme/storefront",
              "credential_id": foreign.id, "programming_language": "php",
              "framework": "laravel", "engine_version": "8.3", "default_branch": "main"},
        headers=mine.headers,
    )
    # Whether the id is refused is the reference checks' business; it must never show
    # another organization's credential.
    if r.status_code == 201:
        r = await client.get(f"/applications/{r.json()['id']}", headers=mine.headers)
        assert r.json()["credential"] is None
    assert "their secret name" not in r.text

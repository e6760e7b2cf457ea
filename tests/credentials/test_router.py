from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import SecretBox
from app.core.settings import Settings
from app.credentials.models import Credential, CredentialEnvironment
from app.credentials.secrets import unseal
from app.events.models import ResourceEvent
from tests.factories import create_environment, create_project
from tests.factories_credentials import (
    AWS_SECRET,
    AWS_VALUES,
    create_credential,
    create_network,
    create_tenant,
)


def aws_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "aws production",
        "provider_code": "aws",
        "provider_type": "cloud_provider",
        "active": True,
        "settings": {"credential": dict(AWS_VALUES)},
    }
    body.update(overrides)
    return body


async def test_create_organization_credential_stores_it_sealed(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    tenant = await create_tenant(db)
    r = await client.post(
        f"/organizations/{tenant.organization.id}/credentials",
        json=aws_body(),
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "aws production"
    assert body["provider"]["code"] == "aws"
    assert body["provider_type"] == "cloud_provider"
    assert body["provider_auth_type"] == "api_credentials"
    assert body["organization"]["id"] == tenant.organization.id
    assert body["created_by_user"]["id"] == tenant.user.id
    assert AWS_SECRET not in r.text and "AKIAIOSFODNN7EXAMPLE" not in r.text

    stored = await db.scalar(select(Credential).where(Credential.id == body["id"]))
    assert stored is not None
    assert AWS_SECRET not in stored.settings_encrypted
    assert unseal(SecretBox(settings), stored.settings_encrypted) == AWS_VALUES
    assert stored.status is None  # created without calling the provider

    event = await db.scalar(
        select(ResourceEvent).where(
            ResourceEvent.resource_type == "credential", ResourceEvent.resource_id == body["id"]
        )
    )
    assert event is not None and event.event_type == "created"
    assert event.triggered_by == tenant.user.id and event.ip_address == "127.0.0.1"
    assert event.changes["settings_encrypted"] == {"before": None, "after": "********"}
    assert AWS_SECRET not in json.dumps(event.changes)


async def test_create_by_url_slug_and_list_with_filters(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, count_queries: Any
) -> None:
    tenant = await create_tenant(db)
    for _ in range(3):
        await create_credential(db, settings, tenant)
    await create_credential(
        db, settings, tenant, provider_code="github", values={"access_token": "ghp_x"}
    )
    url = f"/organizations/{tenant.organization.url_slug}/credentials"
    await client.get(url, headers=tenant.headers)  # warms the token cache
    with count_queries() as few:
        r = await client.get(url, headers=tenant.headers, params={"per_page": 1})
    assert r.status_code == 200 and len(r.json()) == 1
    with count_queries() as many:
        r = await client.get(url, headers=tenant.headers)
    assert len(r.json()) == 4
    assert many.count == few.count
    r = await client.get(url, headers=tenant.headers, params={"provider_type": "source_provider"})
    assert [c["provider"]["code"] for c in r.json()] == ["github"]
    r = await client.get(url, headers=tenant.headers, params={"provider_code": "aws"})
    assert len(r.json()) == 3
    assert 'rel="last"' in r.headers["Link"]


async def test_create_rejects_bad_fields(client: httpx.AsyncClient, db: AsyncSession) -> None:
    tenant = await create_tenant(db)
    url = f"/organizations/{tenant.organization.id}/credentials"
    cases: list[tuple[dict[str, Any], str]] = [
        (aws_body(provider_code="nimbus"), "provider_code"),
        (aws_body(provider_type="source_provider"), "provider_type"),
        (aws_body(name="x" * 61), "name"),
        (aws_body(name=""), "name"),
        (aws_body(active="maybe"), "active"),
        (aws_body(settings={"credential": {"access_key_id": "AKIAIOSFODNN7EXAMPLE"}}),
         "settings.credential.secret_access_key"),
        (aws_body(settings={"credential": {**AWS_VALUES, "access_key_id": "lower-case!"}}),
         "settings.credential.access_key_id"),
        (aws_body(provider_code="gcp",
                  settings={"credential": {"service_account_key": "not json"}}),
         "settings.credential.service_account_key"),
        (aws_body(provider_code="github", provider_type="source_provider",
                  settings={"credential": {"auth_type": "api_credentials"}}),
         "settings.credential.access_token"),
        (aws_body(provider_code="github", provider_type="source_provider",
                  settings={"credential": {"auth_type": "oauth", "callback_code": "abc"}}),
         "settings.credential.auth_type"),
        (aws_body(provider_code="github", provider_type="source_provider",
                  settings={"credential": {}}), "settings.credential.auth_type"),
        (aws_body(settings={}), "settings.credential"),
    ]
    for body, field in cases:
        r = await client.post(url, json=body, headers=tenant.headers)
        assert r.status_code == 422, (body, r.text)
        assert field in r.json()["errors"], (field, r.json())
    assert not (await db.scalars(select(Credential))).all()


async def test_environment_credential_create_links_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant = await create_tenant(db)
    r = await client.post(
        f"/environments/{tenant.environment.id}/credentials",
        json=aws_body(provider_code="hetzner",
                      settings={"credential": {"api_token": "hetzner-token-123"}}),
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    assert "hetzner-token-123" not in r.text
    r = await client.get(f"/environments/{tenant.environment.id}/credentials",
                         headers=tenant.headers)
    assert [c["provider"]["code"] for c in r.json()] == ["hetzner"]
    # Personal projects have no organization: the credential belongs to the project.
    project = await create_project(db, tenant.user)
    environment = await create_environment(db, project)
    r = await client.post(
        f"/environments/{environment.id}/credentials",
        json=aws_body(provider_code="digitalocean",
                      settings={"credential": {"api_token": "do-token"}}),
        headers=tenant.headers,
    )
    assert r.status_code == 201 and r.json()["organization"] is None
    r = await client.get(f"/credentials/{r.json()['id']}", headers=tenant.headers)
    assert r.status_code == 200


async def test_link_and_unlink(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    tenant = await create_tenant(db)
    credential = await create_credential(db, settings, tenant, link=False)
    other_env = await create_environment(db, tenant.project)
    base = f"/environments/{other_env.id}/credentials/{credential.id}"
    r = await client.post(f"{base}/link", headers=tenant.headers)
    assert r.status_code == 204, r.text
    assert await db.get(CredentialEnvironment, (credential.id, other_env.id)) is not None
    r = await client.post(f"{base}/link", headers=tenant.headers)
    assert r.status_code == 422
    r = await client.get(f"/environments/{other_env.id}/credentials", headers=tenant.headers)
    assert [c["id"] for c in r.json()] == [credential.id]
    r = await client.delete(f"{base}/unlink", headers=tenant.headers)
    assert r.status_code == 204
    r = await client.delete(f"{base}/unlink", headers=tenant.headers)
    assert r.status_code == 404
    # A credential of another organization cannot be linked here.
    stranger = await create_tenant(db)
    foreign = await create_credential(db, settings, stranger)
    r = await client.post(
        f"/environments/{other_env.id}/credentials/{foreign.id}/link", headers=tenant.headers
    )
    assert r.status_code == 404
    r = await client.post(
        f"/environments/{other_env.id}/credentials/{foreign.id}/link", headers=stranger.headers
    )
    assert r.status_code == 404


async def test_another_tenant_sees_nothing(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    tenant = await create_tenant(db)
    stranger = await create_tenant(db)
    credential = await create_credential(db, settings, tenant)
    h = stranger.headers
    assert (await client.get(f"/credentials/{credential.id}", headers=h)).status_code == 404
    r = await client.put(f"/credentials/{credential.id}", headers=h,
                         json={"id": credential.id, "name": "mine"})
    assert r.status_code == 404
    assert (await client.delete(f"/credentials/{credential.id}", headers=h)).status_code == 404
    r = await client.post(f"/credentials/{credential.id}/get-status", headers=h)
    assert r.status_code == 404
    r = await client.get(f"/organizations/{tenant.organization.id}/credentials", headers=h)
    assert r.status_code == 404
    r = await client.get(f"/environments/{tenant.environment.id}/credentials", headers=h)
    assert r.status_code == 404
    r = await client.post(f"/organizations/{tenant.organization.id}/credentials", headers=h,
                          json=aws_body())
    assert r.status_code == 404
    r = await client.get(f"/events/credential/{credential.id}", headers=h)
    assert r.status_code == 404


async def test_update_and_delete(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    tenant = await create_tenant(db)
    credential = await create_credential(db, settings, tenant)
    url = f"/credentials/{credential.id}"
    original_name = credential.name
    r = await client.put(url, headers=tenant.headers, json={"id": credential.id + 1, "name": "x"})
    assert r.status_code == 422 and "id" in r.json()["errors"]
    new_secret = "NEWSECRETnewsecretNEWSECRET1234"
    r = await client.put(
        url, headers=tenant.headers,
        json={"id": credential.id, "name": "renamed",
              "settings": {"credential": {"access_key_id": "AKIANEWKEY0000000000",
                                          "secret_access_key": new_secret}}},
    )
    assert r.status_code == 204, r.text
    r = await client.get(url, headers=tenant.headers)
    assert r.json()["name"] == "renamed"
    await db.refresh(credential)
    assert unseal(SecretBox(settings), credential.settings_encrypted)["secret_access_key"] == (
        new_secret
    )
    r = await client.get(f"/events/credential/{credential.id}", headers=tenant.headers)
    assert r.status_code == 200
    updated = r.json()[0]
    assert updated["event_type"] == "updated"
    assert updated["changes"]["name"] == {"before": original_name, "after": "renamed"}
    assert updated["changes"]["settings_encrypted"] == {"before": "********", "after": "********"}
    assert new_secret not in r.text

    network = await create_network(db, tenant, credential)
    r = await client.delete(url, headers=tenant.headers)
    assert r.status_code == 409
    await db.delete(network)
    await db.commit()
    r = await client.delete(url, headers=tenant.headers)
    assert r.status_code == 204
    assert (await client.get(url, headers=tenant.headers)).status_code == 404


async def test_provider_settings(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, monkeypatch: Any
) -> None:
    tenant = await create_tenant(db)
    r = await client.get(
        f"/organizations/{tenant.organization.id}/credentials/aws/settings",
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["organization_id"] == tenant.organization.id
    names = {s["name"]: s["sensitive"] for s in body["settings"]["input_settings"]}
    assert names == {"access_key_id": False, "secret_access_key": True}
    assert body["settings"]["cloud_services"][0]["code"] == "aws-ec2"

    url = f"/environments/{tenant.environment.id}/credentials/github/settings"
    r = await client.get(url, headers=tenant.headers)
    methods = r.json()["settings"]["auth_methods"]
    assert [m["auth_type"] for m in methods] == ["api_credentials"]
    monkeypatch.setattr(settings, "github_client_id", "client-123")
    monkeypatch.setattr(settings, "github_client_secret", "shh")
    r = await client.get(url, headers=tenant.headers, params={"state": "xyz"})
    oauth = r.json()["settings"]["auth_methods"][1]
    assert oauth["auth_type"] == "oauth"
    assert "client_id=client-123" in oauth["connect_url"] and "state=xyz" in oauth["connect_url"]
    assert "redirect_uri=http%3A%2F%2Ftestserver%2Foauth%2Fgithub%2Fcallback" in (
        oauth["connect_url"]
    )
    assert "shh" not in r.text
    r = await client.get(
        f"/environments/{tenant.environment.id}/credentials/nimbus/settings",
        headers=tenant.headers,
    )
    assert r.status_code == 404


async def test_project_token_reaches_only_its_environments(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    from tests.factories import create_project_token, create_role

    tenant = await create_tenant(db)
    credential = await create_credential(db, settings, tenant)
    role = await create_role(db, permissions=["credential:read"])
    _, token = await create_project_token(db, tenant.project, role, tenant.user)
    h = {"Authorization": f"Bearer {token}"}
    r = await client.get(f"/credentials/{credential.id}", headers=h)
    assert r.status_code == 200
    r = await client.put(f"/credentials/{credential.id}", headers=h,
                         json={"id": credential.id, "name": "nope"})
    assert r.status_code == 403
    unlinked = await create_credential(db, settings, tenant, link=False)
    r = await client.get(f"/credentials/{unlinked.id}", headers=h)
    assert r.status_code == 404


async def test_oauth_callback_hands_the_code_back(client: httpx.AsyncClient) -> None:
    r = await client.get("/oauth/github/callback", params={"code": "abc123", "state": "s"})
    assert r.status_code == 200
    assert r.json() == {"provider": "github", "callback_code": "abc123", "state": "s"}
    r = await client.get("/oauth/github/callback", params={"error": "access_denied"})
    assert r.status_code == 422
    assert (await client.get("/oauth/aws/callback", params={"code": "x"})).status_code == 404

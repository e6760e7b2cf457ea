"""Provider adapters through the API, against local stand-ins speaking each provider's API
(moto's server for AWS), with the adapters' real client code."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import SecretBox
from app.core.settings import Settings
from app.credentials.catalogue import PROVIDERS
from app.credentials.models import Credential
from app.credentials.secrets import unseal
from tests import standins
from tests.conftest import free_port
from tests.factories_credentials import Tenant, create_credential, create_tenant


class Seen:
    """Collects every response body, to prove no secret ever leaves the server."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.bodies: list[str] = []

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, url, **kwargs)
        self.bodies.append(response.text + json.dumps(dict(response.headers)))
        return response

    def assert_never_showed(self, *secrets: str) -> None:
        for secret in secrets:
            assert all(secret not in body for body in self.bodies), secret


async def _status(seen: Seen, tenant: Tenant, credential: Credential) -> httpx.Response:
    return await seen.request(
        "POST", f"/credentials/{credential.id}/get-status", headers=tenant.headers
    )


async def test_aws_status_through_sts_and_ec2(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, aws_key: dict[str, str]
) -> None:
    seen = Seen(client)
    tenant = await create_tenant(db)
    good = await create_credential(db, settings, tenant, values=aws_key)
    r = await _status(seen, tenant, good)
    assert r.status_code == 204, r.text
    await db.refresh(good)
    assert good.status == "valid" and "arn:aws:iam::" in (good.status_message or "")

    wrong = dict(aws_key, secret_access_key="x" * 40)
    bad = await create_credential(db, settings, tenant, values=wrong)
    r = await _status(seen, tenant, bad)
    assert r.status_code == 422
    assert "SignatureDoesNotMatch" in r.json()["message"]
    await db.refresh(bad)
    assert bad.status == "invalid"  # the failed check is stored, though the answer is 422
    seen.assert_never_showed(aws_key["secret_access_key"], "x" * 40)


async def test_aws_unreachable_is_reported(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "aws_endpoint_url", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(settings, "provider_timeout_seconds", 1.0)
    tenant = await create_tenant(db)
    credential = await create_credential(db, settings, tenant)
    r = await client.post(f"/credentials/{credential.id}/get-status", headers=tenant.headers)
    assert r.status_code == 422
    assert "could not be reached" in r.json()["message"]


@pytest.mark.parametrize(
    ("code", "good", "bad"),
    [
        ("digitalocean", {"api_token": standins.DIGITALOCEAN_TOKEN},
         {"api_token": "revoked-token-0001"}),
        ("hetzner", {"api_token": standins.HETZNER_TOKEN}, {"api_token": "revoked-token-0001"}),
        ("azure", standins.AZURE, dict(standins.AZURE, client_secret="wrong-secret-0005")),
        ("github", {"access_token": standins.GITHUB_TOKEN}, {"access_token": "ghp_revoked_0002"}),
        ("gitlab", {"access_token": standins.GITLAB_TOKEN}, {"access_token": "glpat-revoked-0003"}),
        ("bitbucket", {"access_token": standins.BITBUCKET_TOKEN},
         {"access_token": "bb-revoked-0004"}),
        ("bitbucket",
         {"access_token": standins.BITBUCKET_APP_PASSWORD[1],
          "username": standins.BITBUCKET_APP_PASSWORD[0]},
         {"access_token": "wrong-password-0006", "username": standins.BITBUCKET_APP_PASSWORD[0]}),
    ],
)
async def test_http_providers_status(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, providers: str,
    code: str, good: dict[str, str], bad: dict[str, str],
) -> None:
    seen = Seen(client)
    tenant = await create_tenant(db)
    valid = await create_credential(db, settings, tenant, provider_code=code, values=good)
    invalid = await create_credential(db, settings, tenant, provider_code=code, values=bad)
    r = await _status(seen, tenant, valid)
    assert r.status_code == 204, r.text
    r = await _status(seen, tenant, invalid)
    assert r.status_code == 422, r.text
    assert "rejected" in r.json()["message"] or "not found" in r.json()["message"]
    r = await seen.request("GET", f"/credentials/{valid.id}", headers=tenant.headers)
    assert r.json()["status"] == "valid"
    definition = PROVIDERS[code]
    sensitive = {f.name for f in (*definition.fields, *definition.token_fields) if f.sensitive}
    seen.assert_never_showed(
        *(v for values in (good, bad) for k, v in values.items() if k in sensitive)
    )


async def test_google_cloud_signed_assertion(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, providers: str,
    google: standins.GoogleStandIn,
) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = "deployer@my-project.iam.gserviceaccount.com"
    google.public_keys[email] = private.public_key()
    key = {"type": "service_account", "project_id": "my-project", "client_email": email,
           "private_key": pem, "token_uri": f"{providers}/gcp/token"}
    tenant = await create_tenant(db)
    r = await client.post(
        f"/organizations/{tenant.organization.id}/credentials", headers=tenant.headers,
        json={"name": "gcp", "provider_code": "gcp", "provider_type": "cloud_provider",
              "active": True, "settings": {"credential": {"service_account_key": json.dumps(key)}}},
    )
    assert r.status_code == 201, r.text
    assert "PRIVATE KEY" not in r.text
    credential_id = r.json()["id"]
    r = await client.post(f"/credentials/{credential_id}/get-status", headers=tenant.headers)
    assert r.status_code == 204, r.text
    # A key the provider does not know (another key pair) is rejected.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key["private_key"] = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    forged = await create_credential(
        db, settings, tenant, provider_code="gcp",
        values={"service_account_key": json.dumps(key)},
    )
    r = await client.post(f"/credentials/{forged.id}/get-status", headers=tenant.headers)
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("code", "values", "repo_url_host"),
    [
        ("github", {"access_token": standins.GITHUB_TOKEN}, "github.example"),
        ("gitlab", {"access_token": standins.GITLAB_TOKEN}, "gitlab.example"),
        ("bitbucket", {"access_token": standins.BITBUCKET_TOKEN}, "bitbucket.example"),
    ],
)
async def test_repositories(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, providers: str,
    code: str, values: dict[str, str], repo_url_host: str,
) -> None:
    seen = Seen(client)
    tenant = await create_tenant(db)
    credential = await create_credential(db, settings, tenant, provider_code=code, values=values)
    base = f"/credentials/{credential.id}/repositories"
    r = await seen.request("GET", base, headers=tenant.headers, params={"per_page": 2})
    assert r.status_code == 200, r.text
    assert [repo["full_name"] for repo in r.json()] == ["octo/repo-1", "octo/repo-2"]
    assert 'page=3&per_page=2>; rel="last"' in r.headers["Link"]
    r = await seen.request("GET", base, headers=tenant.headers,
                           params={"per_page": 2, "page": 3})
    assert [repo["name"] for repo in r.json()] == ["repo-5"]

    r = await seen.request("GET", f"{base}/octo/repo-2", headers=tenant.headers)
    assert r.status_code == 200, r.text
    repo = r.json()
    assert repo["full_name"] == "octo/repo-2" and repo_url_host in repo["html_url"]
    branch = repo["branches"][0]
    assert branch["name"] == "main" and branch["commit"]["hash"] == standins.SHA
    assert branch["commit"]["message"].startswith("Initial commit")
    assert "@example.com" in branch["commit"]["author_email"]
    assert repo["tags"][0]["commit"]["hash"] == standins.SHA

    r = await seen.request("GET", f"{base}/octo/missing", headers=tenant.headers)
    assert r.status_code == 404
    seen.assert_never_showed(*values.values())


async def test_repositories_need_a_valid_source_credential(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, providers: str
) -> None:
    tenant = await create_tenant(db)
    cloud = await create_credential(db, settings, tenant)
    r = await client.get(f"/credentials/{cloud.id}/repositories", headers=tenant.headers)
    assert r.status_code == 422
    revoked = await create_credential(
        db, settings, tenant, provider_code="github", values={"access_token": "ghp_revoked"}
    )
    r = await client.get(f"/credentials/{revoked.id}/repositories", headers=tenant.headers)
    assert r.status_code == 422 and "rejected" in r.json()["message"]


@pytest.mark.parametrize(
    ("code", "client_id", "secret", "token"),
    [
        ("github", "gh-client", "gh-secret", standins.GITHUB_TOKEN),
        ("gitlab", "gl-client", "gl-secret", standins.GITLAB_TOKEN),
        ("bitbucket", "bb-client", "bb-secret", standins.BITBUCKET_TOKEN),
    ],
)
async def test_oauth_credentials_once_configured(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, providers: str,
    monkeypatch: pytest.MonkeyPatch, code: str, client_id: str, secret: str, token: str,
) -> None:
    monkeypatch.setattr(settings, f"{code}_client_id", client_id)
    monkeypatch.setattr(settings, f"{code}_client_secret", secret)
    tenant = await create_tenant(db)
    url = f"/organizations/{tenant.organization.id}/credentials"

    def body(callback_code: str) -> dict[str, Any]:
        return {"name": f"{code} oauth", "provider_code": code,
                "provider_type": "source_provider", "active": True,
                "settings": {"credential": {"auth_type": "oauth",
                                            "callback_code": callback_code}}}

    r = await client.post(url, json=body("wrong-code"), headers=tenant.headers)
    assert r.status_code == 422, r.text
    assert "settings.credential.callback_code" in r.json()["errors"]
    r = await client.post(url, json=body(standins.OAUTH_CODES[code]), headers=tenant.headers)
    assert r.status_code == 201, r.text
    assert r.json()["provider_auth_type"] == "oauth"
    assert token not in r.text
    stored = await db.get(Credential, r.json()["id"])
    assert stored is not None
    assert unseal(SecretBox(settings), stored.settings_encrypted)["access_token"] == token
    r = await client.post(f"/credentials/{stored.id}/get-status", headers=tenant.headers)
    assert r.status_code == 204

"""Every body these endpoints answer is read by the official SDK's (pydantic) models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import devopness.models as sdk
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from app.hooks.pipelines import register_pipeline_lookup
from app.wiring import _pipeline_lookup
from tests import standins
from tests.factories_credentials import AWS_VALUES, create_credential, create_tenant
from tests.hooks.conftest import create_hook, pipeline_for


def read(model: Any, response: httpx.Response) -> None:
    assert response.status_code < 300, response.text
    body = response.json()
    for item in body if isinstance(body, list) else [body]:
        model.from_dict(item)


@pytest.fixture
def pipelines() -> Iterator[None]:
    register_pipeline_lookup(_pipeline_lookup)
    yield


@pytest.mark.usefixtures("pipelines")
async def test_sdk_reads_every_shape(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, providers: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "github_client_id", "gh-client")
    monkeypatch.setattr(settings, "github_client_secret", "gh-secret")
    tenant = await create_tenant(db)
    h = tenant.headers
    org, env = tenant.organization.id, tenant.environment.id

    r = await client.post(f"/organizations/{org}/credentials", headers=h, json={
        "name": "aws", "provider_code": "aws", "provider_type": "cloud_provider",
        "active": True, "settings": {"credential": AWS_VALUES}})
    read(sdk.Credential, r)
    credential_id = r.json()["id"]
    await client.post(f"/environments/{env}/credentials/{credential_id}/link", headers=h)
    read(sdk.CredentialRelation, await client.get(f"/environments/{env}/credentials", headers=h))
    read(sdk.CredentialRelation, await client.get(f"/organizations/{org}/credentials", headers=h))
    read(sdk.Credential, await client.get(f"/credentials/{credential_id}", headers=h))
    for code in ("aws", "gcp", "github"):
        read(sdk.CredentialSetting,
             await client.get(f"/organizations/{org}/credentials/{code}/settings", headers=h))
    read(sdk.CredentialOptions, await client.get("/static/credential-options", headers=h))
    for code in ("aws-ec2", "hetzner-hcloud", "self-hosted-custom"):
        read(sdk.CloudProviderService,
             await client.get(f"/static/cloud-provider-service-options/{code}", headers=h))
    read(sdk.CloudInstanceRelation, await client.get(
        "/static/cloud-provider-service-options/gcp-gce/regions/us-east1/instances", headers=h))

    github = await create_credential(db, settings, tenant, provider_code="github",
                                     values={"access_token": standins.GITHUB_TOKEN})
    read(sdk.RepositoryRelation,
         await client.get(f"/credentials/{github.id}/repositories", headers=h))
    read(sdk.Repository,
         await client.get(f"/credentials/{github.id}/repositories/octo/repo-1", headers=h))

    r = await client.post(f"/environments/{env}/networks", headers=h, json={
        "name": "vpc", "credential_id": credential_id, "provision_input": {
            "cloud_service_code": "aws-ec2",
            "settings": {"region": "us-east-1", "cidr_block": "10.0.0.0/16"}}})
    read(sdk.Network, r)
    network_id = r.json()["id"]
    r = await client.post(f"/networks/{network_id}/subnets", headers=h, json={
        "name": "a", "type": "public", "credential_id": credential_id,
        "provision_input": {"settings": {"zone": "us-east-1a", "cidr_block": "10.0.1.0/24"}}})
    read(sdk.Subnet, r)
    read(sdk.Subnet, await client.get(f"/subnets/{r.json()['id']}", headers=h))
    read(sdk.NetworkRelation, await client.get(f"/environments/{env}/networks", headers=h))
    read(sdk.SubnetRelation, await client.get(f"/networks/{network_id}/subnets", headers=h))
    read(sdk.SubnetRelation, await client.get(f"/environments/{env}/subnets", headers=h))
    read(sdk.Network, await client.get(f"/networks/{network_id}", headers=h))
    read(sdk.ResourceLinkRelation,
         await client.get(f"/resource-links/network/{network_id}", headers=h))
    read(sdk.ResourceEventRelation,
         await client.get(f"/events/network/{network_id}", headers=h))
    read(sdk.ResourceEvent, await client.post(f"/events/network/{network_id}", headers=h))

    pipeline_id = await pipeline_for(db, tenant)
    hook = await create_hook(client, tenant, pipeline_id)
    sdk.Hook.from_dict(hook)
    outgoing = await create_hook(client, tenant, pipeline_id, kind="outgoing",
                                 target_url="https://example.com/notify",
                                 settings={"request_body": {"a": "b"}})
    sdk.Hook.from_dict(outgoing)
    read(sdk.HookRelation, await client.get(f"/pipelines/{pipeline_id}/hooks", headers=h))
    r = await client.post(f"/hooks/{hook['id']}/trigger", content=json.dumps({"x": 1}),
                          headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    r = await client.get(f"/hooks/incoming/{hook['id']}/requests", headers=h)
    read(sdk.RequestRelation, r)
    read(sdk.HookRequest, await client.get(f"/hook-requests/{r.json()[0]['id']}", headers=h))

    r = await client.post("/social-accounts", headers=h, json={
        "provider": "github", "callback_code": standins.OAUTH_CODES["github"]})
    read(sdk.SocialAccount, r)
    read(sdk.SocialAccountRelation, await client.get("/social-accounts", headers=h))
    read(sdk.SocialAccountStatus, await client.get("/social-accounts/github/status", headers=h))
    read(sdk.UserMe, await client.get("/users/me", headers=h))

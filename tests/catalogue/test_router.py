from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import auth, user_with_token

CODES = ["aws-ec2", "azure-rm", "digitalocean-droplet", "gcp-gce", "hetzner-hcloud",
         "self-hosted-custom"]


async def test_credential_options(client: httpx.AsyncClient, db: AsyncSession) -> None:
    _, token = await user_with_token(db)
    r = await client.get("/static/credential-options", headers=auth(token))
    assert r.status_code == 200
    codes = {p["code"] for p in r.json()["supported_providers"]}
    assert codes == {"aws", "azure", "digitalocean", "gcp", "hetzner", "github", "gitlab",
                     "bitbucket"}
    assert (await client.get("/static/credential-options")).status_code == 401


async def test_every_cloud_service_and_its_instances(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    _, token = await user_with_token(db)
    h = auth(token)
    for code in CODES:
        r = await client.get(f"/static/cloud-provider-service-options/{code}", headers=h)
        assert r.status_code == 200, (code, r.text)
        service = r.json()
        assert service["code"] == code
        for region in service["regions"][:3]:
            url = (f"/static/cloud-provider-service-options/{code}/regions/{region['code']}"
                   "/instances")
            r = await client.get(url, headers=h, params={"per_page": 100})
            assert r.status_code == 200, r.text
            instances = r.json()
            assert instances and all(i["vcpus"] >= 1 and i["memory"] >= 512 for i in instances)
            assert all(i["price_monthly"] > i["price_hourly"] > 0 for i in instances)
    r = await client.get("/static/cloud-provider-service-options/aws-ec2/regions/us-east-1/"
                         "instances", headers=h, params={"per_page": 2})
    assert len(r.json()) == 2 and 'rel="next"' in r.headers["Link"]
    # Regional prices differ where the provider's do.
    cheap = await client.get("/static/cloud-provider-service-options/aws-ec2/regions/us-east-1/"
                             "instances", headers=h)
    dear = await client.get("/static/cloud-provider-service-options/aws-ec2/regions/sa-east-1/"
                            "instances", headers=h)
    assert dear.json()[0]["price_hourly"] > cheap.json()[0]["price_hourly"]
    assert (await client.get("/static/cloud-provider-service-options/nope",
                             headers=h)).status_code == 404
    assert (await client.get("/static/cloud-provider-service-options/aws-ec2/regions/mars/"
                             "instances", headers=h)).status_code == 404

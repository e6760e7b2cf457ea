"""Rules every environment resource follows, checked for each resource type: pagination
with the Link header and a fixed number of queries, tenant isolation (404), read-only
callers (403), and deletion that leaves nothing behind."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.resources_common.models import ResourceServer
from app.variables.models import Variable
from tests import resource_factories as f
from tests.factories import auth, create_project_token, create_role

Factory = Callable[[AsyncSession, f.Tenant], Awaitable[Any]]
Body = Callable[[AsyncSession, f.Tenant], Awaitable[dict[str, Any]]]


async def _server_body(db: AsyncSession, t: f.Tenant) -> dict[str, Any]:
    return {"hostname": "new-host", "ip_address": "192.0.2.1", "ssh_port": 22,
            "provision_input": {"cloud_service_code": "self-hosted-custom",
                                "settings": {"os_version_code": "ubuntu_22_04"}}}


async def _application_body(db: AsyncSession, t: f.Tenant) -> dict[str, Any]:
    return {"name": "new-app", "repository": "acme/site", "credential_id": 3,
            "programming_language": "nodejs", "framework": "nextjs", "engine_version": "22",
            "default_branch": "main"}


async def _service_body(db: AsyncSession, t: f.Tenant) -> dict[str, Any]:
    return {"type": "mysql", "version": "8.0"}


async def _daemon_body(db: AsyncSession, t: f.Tenant) -> dict[str, Any]:
    return {"name": "queue", "command": "php artisan queue:work", "process_count": 2,
            "working_directory": "/srv/app", "run_as_user": "www-data"}


async def _cron_body(db: AsyncSession, t: f.Tenant) -> dict[str, Any]:
    return {"name": "nightly", "command": "backup --all", "pattern": "30 2 * * *",
            "run_as_user": "root"}


async def _ssl_body(db: AsyncSession, t: f.Tenant) -> dict[str, Any]:
    host = await f.create_virtual_host(db, t)
    return {"virtual_host_id": host.id, "issuer": "lets-encrypt"}


async def _vhost_body(db: AsyncSession, t: f.Tenant) -> dict[str, Any]:
    return {"type": "name-based", "name": "new.example.com", "root_directory": "/var/www"}


async def _rule_body(db: AsyncSession, t: f.Tenant) -> dict[str, Any]:
    return {"name": "allow https", "direction": "inbound", "protocol": "tcp", "port": 443,
            "cidr_block": "0.0.0.0/0"}


async def _key_body(db: AsyncSession, t: f.Tenant) -> dict[str, Any]:
    public, _ = f.ssh_keypair()
    return {"name": "laptop", "public_key": public}


@dataclass(frozen=True)
class Kind:
    resource_type: str
    collection: str  # path below /environments/{id}/
    item: str  # path prefix of one resource
    factory: Factory
    create_body: Body
    update_body: Callable[[int], dict[str, Any]] | None

    def __str__(self) -> str:
        return self.resource_type


KINDS = [
    Kind("server", "servers", "/servers", f.create_server, _server_body,
         lambda i: {"id": i, "ssh_port": 2222}),
    Kind("application", "applications", "/applications", f.create_application,
         _application_body,
         lambda i: {"id": i, "name": "renamed", "engine_version": "3.12",
                    "framework": "flask", "programming_language": "python",
                    "default_branch": "main"}),
    Kind("service", "services", "/services", f.create_service, _service_body,
         lambda i: {"id": i}),
    Kind("daemon", "daemons", "/daemons", f.create_daemon, _daemon_body,
         lambda i: {"id": i, "name": "renamed", "command": "run", "process_count": 3,
                    "working_directory": None, "run_as_user": "root"}),
    Kind("cronjob", "cron-jobs", "/cron-jobs", f.create_cron_job, _cron_body,
         lambda i: {"id": i, "name": "renamed", "command": "echo again",
                    "pattern": "*/5 * * * *", "run_as_user": "root"}),
    Kind("ssl-certificate", "ssl-certificates", "/ssl-certificates",
         f.create_ssl_certificate, _ssl_body, None),
    Kind("virtual-host", "virtual-hosts", "/virtual-hosts", f.create_virtual_host,
         _vhost_body, lambda i: {"id": i, "name": "renamed.example.com"}),
    Kind("network-rule", "network-rules", "/network-rules", f.create_network_rule,
         _rule_body,
         lambda i: {"id": i, "name": "renamed", "direction": "outbound",
                    "cidr_block": "10.0.0.0/8"}),
    Kind("ssh-key", "ssh-keys", "/ssh-keys", f.create_ssh_key, _key_body,
         lambda i: {"id": i, "name": "renamed"}),
]


def _page_of(link: str, rel: str) -> int:
    for part in link.split(","):
        if f'rel="{rel}"' in part:
            match = re.search(r"[?&]page=(\d+)", part)
            assert match, part
            return int(match.group(1))
    raise AssertionError(f"no rel={rel} in {link}")


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_list_of_45_pages_by_20(
    kind: Kind, client: httpx.AsyncClient, db: AsyncSession, count_queries: Any
) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t, hostname="linked-host")
    created = [server.id] if kind.resource_type == "server" else []
    while len(created) < 45:
        resource = await kind.factory(db, t)
        if kind.resource_type not in ("server", "ssl-certificate"):
            await f.link(db, kind.resource_type, resource.id, server)
        created.append(resource.id)
    url = f"/environments/{t.environment.id}/{kind.collection}"
    seen: list[int] = []
    queries: list[int] = []
    for page in (1, 2, 3):
        with count_queries() as q:
            r = await client.get(url, params={"page": page, "per_page": 20}, headers=t.headers)
        queries.append(q.count)
        assert r.status_code == 200, r.text
        assert _page_of(r.headers["Link"], "last") == 3
        seen += [item["id"] for item in r.json()]
    assert seen == sorted(created)
    # A full page of 20 costs the same number of queries as the last page of 5: no N+1.
    # (The first request also resolves the bearer token, so pages 2 and 3 are compared.)
    assert queries[1] == queries[2] <= 12, queries
    r = await client.get(url, params={"per_page": 101}, headers=t.headers)
    assert r.status_code == 422


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_another_tenant_sees_nothing(
    kind: Kind, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner = await f.create_tenant(db)
    other = await f.create_tenant(db)
    resource = await kind.factory(db, owner)
    url = f"{kind.item}/{resource.id}"
    assert (await client.get(url, headers=other.headers)).status_code == 404
    if kind.update_body is not None:
        r = await client.put(url, json=kind.update_body(resource.id), headers=other.headers)
        assert r.status_code == 404
    assert (await client.delete(url, headers=other.headers)).status_code == 404
    collection = f"/environments/{owner.environment.id}/{kind.collection}"
    assert (await client.get(collection, headers=other.headers)).status_code == 404
    body = await kind.create_body(db, owner)
    assert (await client.post(collection, json=body, headers=other.headers)).status_code == 404
    # Still there for its owner.
    assert (await client.get(url, headers=owner.headers)).status_code == 200


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_read_only_token_reads_but_cannot_change(
    kind: Kind, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    role = await create_role(db, permissions=[f"{kind.resource_type}:read"])
    _, token = await create_project_token(db, t.project, role, t.user)
    resource = await kind.factory(db, t)
    url = f"{kind.item}/{resource.id}"
    assert (await client.get(url, headers=auth(token))).status_code == 200
    collection = f"/environments/{t.environment.id}/{kind.collection}"
    assert (await client.get(collection, headers=auth(token))).status_code == 200
    body = await kind.create_body(db, t)
    assert (await client.post(collection, json=body, headers=auth(token))).status_code == 403
    if kind.update_body is not None:
        r = await client.put(url, json=kind.update_body(resource.id), headers=auth(token))
        assert r.status_code == 403
    assert (await client.delete(url, headers=auth(token))).status_code == 403
    # The owner may do all of it.
    r = await client.post(collection, json=body, headers=t.headers)
    assert r.status_code == 201, r.text
    if kind.update_body is not None:
        r = await client.put(url, json=kind.update_body(resource.id), headers=t.headers)
        assert r.status_code == 204, r.text
        assert r.content == b""


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_delete_leaves_nothing_behind(
    kind: Kind, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    resource = await kind.factory(db, t)
    if kind.resource_type != "server":
        server = await f.create_server(db, t)
        if kind.resource_type != "ssl-certificate":
            await f.link(db, kind.resource_type, resource.id, server)
    await f.create_variable(db, t, kind.resource_type, resource.id)
    url = f"{kind.item}/{resource.id}"
    r = await client.delete(url, headers=t.headers)
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert (await client.get(url, headers=t.headers)).status_code == 404
    links = await db.scalar(
        select(func.count()).select_from(ResourceServer).where(
            ResourceServer.resource_type == kind.resource_type,
            ResourceServer.resource_id == resource.id,
        )
    )
    variables = await db.scalar(
        select(func.count()).select_from(Variable).where(
            Variable.resource_type == kind.resource_type, Variable.resource_id == resource.id
        )
    )
    assert (links, variables) == (0, 0)


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_create_answers_the_documented_shape(
    kind: Kind, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    body = await kind.create_body(db, t)
    r = await client.post(f"/environments/{t.environment.id}/{kind.collection}", json=body,
                          headers=t.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    r = await client.get(f"{kind.item}/{created['id']}", headers=t.headers)
    assert r.status_code == 200
    assert r.json() == created


async def test_environment_with_resources_cannot_be_deleted(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    await f.create_daemon(db, t)
    r = await client.get(f"/environments/{t.environment.id}", headers=t.headers)
    summary = {i["resource_type"]: i["summary"]["count"] for i in r.json()["resource_summary"]}
    assert summary["server"] == 1 and summary["daemon"] == 1 and summary["cronjob"] == 0
    r = await client.delete(f"/environments/{t.environment.id}", headers=t.headers)
    assert r.status_code == 409
    assert "1 servers" in r.json()["message"] and "1 daemons" in r.json()["message"]
    assert (await client.get(f"/servers/{server.id}", headers=t.headers)).status_code == 200


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_archived_environment_takes_no_new_resources(
    kind: Kind, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    from datetime import UTC, datetime

    t = await f.create_tenant(db)
    body = await kind.create_body(db, t)
    t.environment.archived_at = datetime.now(UTC)
    await db.commit()
    r = await client.post(f"/environments/{t.environment.id}/{kind.collection}", json=body,
                          headers=t.headers)
    assert r.status_code == 409
    assert "archived" in r.json()["message"]

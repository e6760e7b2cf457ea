"""Placing resources on servers after they were created, as the product docs describe: a
server linked to an application (or an SSH key, a daemon...) through `/resource-links`,
and a deploy that links the servers it is asked to deploy to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Action
from app.resources_common.models import ResourceServer
from tests.resource_factories import (
    Tenant,
    assert_action_started,
    create_application,
    create_cron_job,
    create_daemon,
    create_environment,
    create_network_rule,
    create_server,
    create_service,
    create_ssh_key,
    create_ssl_certificate,
    create_tenant,
    create_virtual_host,
    field_errors,
)

Factory = Callable[[AsyncSession, Tenant], Awaitable[Any]]

# (resource type, factory, path of its deploy operation)
DEPLOYABLE: list[tuple[str, Factory, str]] = [
    ("application", create_application, "/applications/{id}/deployments"),
    ("daemon", create_daemon, "/daemons/{id}/deploy"),
    ("cronjob", create_cron_job, "/cron-jobs/{id}/deploy"),
    ("service", create_service, "/services/{id}/deploy"),
    ("network-rule", create_network_rule, "/network-rules/{id}/deploy"),
    ("ssh-key", create_ssh_key, "/ssh-keys/{id}/deploy"),
    ("virtual-host", create_virtual_host, "/virtual-hosts/{id}/deploy"),
]


async def _placements(db: AsyncSession, resource_type: str, resource_id: int) -> list[int]:
    await db.commit()  # a fresh snapshot of what the API stored
    rows = await db.scalars(
        select(ResourceServer.server_id).where(
            ResourceServer.resource_type == resource_type,
            ResourceServer.resource_id == resource_id,
        ).order_by(ResourceServer.server_id)
    )
    return list(rows)


def _deploy_body(resource_type: str, servers: list[int] | None) -> dict[str, Any]:
    body: dict[str, Any] = {} if servers is None else {"servers": servers}
    if resource_type == "application":
        body |= {"type": "deploy", "source_type": "branch", "source_ref": "main"}
    return body


async def test_link_a_server_to_an_application_after_creation(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant = await create_tenant(db)
    server = await create_server(db, tenant)
    app = await create_application(db, tenant)

    r = await client.post(f"/resource-links/server/{server.id}/application/{app.id}/link",
                          headers=tenant.headers)
    assert r.status_code == 204, r.text
    # The linked server appears in the application's server list and in its links.
    r = await client.get(f"/applications/{app.id}", headers=tenant.headers)
    assert [s["id"] for s in r.json()["servers"]] == [server.id]
    r = await client.get(f"/resource-links/application/{app.id}", headers=tenant.headers)
    links = r.json()
    assert [(x["resource_type"], x["resource_id"], x["link_type"]) for x in links] == [
        ("server", server.id, "parent")
    ]
    assert links[0]["linked_resource_data"]["name"] == server.hostname
    assert links[0]["can_be_unlinked"] is True
    r = await client.get(f"/resource-links/server/{server.id}/child",
                         params={"linked_resource_type": "application"},
                         headers=tenant.headers)
    assert [(x["resource_type"], x["resource_id"]) for x in r.json()] == [
        ("application", app.id)
    ]
    assert (await client.get(f"/resource-links/application/{app.id}/child",
                             headers=tenant.headers)).json() == []
    # Linking twice says so; the other order names the same link.
    r = await client.post(f"/resource-links/application/{app.id}/server/{server.id}/link",
                          headers=tenant.headers)
    assert "child_id" in field_errors(r)

    # A deploy without `servers` now targets it.
    r = await client.post(f"/applications/{app.id}/deployments",
                          json=_deploy_body("application", None), headers=tenant.headers)
    await assert_action_started(client, r, tenant, resource_type="application",
                                resource_id=app.id, operation="deploy",
                                server_ids=[server.id])

    r = await client.delete(f"/resource-links/server/{server.id}/application/{app.id}/unlink",
                            headers=tenant.headers)
    assert r.status_code == 204
    assert await _placements(db, "application", app.id) == []
    r = await client.delete(f"/resource-links/server/{server.id}/application/{app.id}/unlink",
                            headers=tenant.headers)
    assert r.status_code == 404
    r = await client.get(f"/events/application/{app.id}", headers=tenant.headers)
    assert [e["event_type"] for e in r.json()][:2] == ["unlinked", "linked"]


async def test_a_server_elsewhere_is_never_linked(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant = await create_tenant(db)
    app = await create_application(db, tenant)
    other_environment = await create_environment(db, tenant.project, tenant.user)
    elsewhere = await create_server(db, tenant, environment_id=other_environment.id)
    stranger = await create_tenant(db)
    foreign = await create_server(db, stranger)

    r = await client.post(f"/resource-links/server/{elsewhere.id}/application/{app.id}/link",
                          headers=tenant.headers)
    assert "child_id" in field_errors(r)
    r = await client.post(f"/resource-links/server/{foreign.id}/application/{app.id}/link",
                          headers=tenant.headers)
    assert r.status_code == 404
    # The stranger cannot place their server under our application either.
    r = await client.post(f"/resource-links/server/{foreign.id}/application/{app.id}/link",
                          headers=stranger.headers)
    assert r.status_code == 404
    for server_id in (elsewhere.id, foreign.id):
        r = await client.post(f"/applications/{app.id}/deployments",
                              json=_deploy_body("application", [server_id]),
                              headers=tenant.headers)
        assert "servers.0" in field_errors(r)
    assert await _placements(db, "application", app.id) == []
    assert await db.scalar(select(func.count()).select_from(Action)) == 0


async def test_an_ssl_certificate_follows_its_virtual_host(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant = await create_tenant(db)
    server = await create_server(db, tenant)
    certificate = await create_ssl_certificate(db, tenant)
    r = await client.post(
        f"/resource-links/server/{server.id}/ssl-certificate/{certificate.id}/link",
        headers=tenant.headers,
    )
    assert "virtual host" in field_errors(r)["child_type"][0]


@pytest.mark.parametrize(("resource_type", "factory", "path"), DEPLOYABLE,
                         ids=[d[0] for d in DEPLOYABLE])
async def test_deploying_to_a_server_links_it(
    client: httpx.AsyncClient, db: AsyncSession, resource_type: str, factory: Factory,
    path: str,
) -> None:
    tenant = await create_tenant(db)
    first = await create_server(db, tenant)
    second = await create_server(db, tenant)
    resource = await factory(db, tenant)
    url = path.format(id=resource.id)

    r = await client.post(url, json=_deploy_body(resource_type, [second.id]),
                          headers=tenant.headers)
    await assert_action_started(client, r, tenant, resource_type=resource_type,
                                resource_id=resource.id, operation="deploy",
                                server_ids=[second.id])
    assert await _placements(db, resource_type, resource.id) == [second.id]

    # Linked by hand through the links the docs describe, then deployed everywhere.
    r = await client.post(
        f"/resource-links/{resource_type}/{resource.id}/server/{first.id}/link",
        headers=tenant.headers,
    )
    assert r.status_code == 204, r.text
    r = await client.post(url, json=_deploy_body(resource_type, None), headers=tenant.headers)
    await assert_action_started(client, r, tenant, resource_type=resource_type,
                                resource_id=resource.id, operation="deploy",
                                server_ids=[first.id, second.id])


async def test_first_deploy_links_the_environment_server(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant = await create_tenant(db)
    app = await create_application(db, tenant)
    r = await client.post(f"/applications/{app.id}/deployments",
                          json=_deploy_body("application", None), headers=tenant.headers)
    assert "servers" in field_errors(r)  # no server to deploy to

    only = await create_server(db, tenant)
    r = await client.post(f"/applications/{app.id}/deployments",
                          json=_deploy_body("application", None), headers=tenant.headers)
    await assert_action_started(client, r, tenant, resource_type="application",
                                resource_id=app.id, operation="deploy", server_ids=[only.id])
    assert await _placements(db, "application", app.id) == [only.id]

    # With several servers to choose from, nothing is guessed.
    other = await create_application(db, tenant)
    await create_server(db, tenant)
    r = await client.post(f"/applications/{other.id}/deployments",
                          json=_deploy_body("application", None), headers=tenant.headers)
    assert "servers" in field_errors(r)
    assert await _placements(db, "application", other.id) == []


async def test_other_operations_only_narrow_to_linked_servers(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant = await create_tenant(db)
    linked = await create_server(db, tenant)
    unlinked = await create_server(db, tenant)
    daemon = await create_daemon(db, tenant)
    db.add(ResourceServer(resource_type="daemon", resource_id=daemon.id, server_id=linked.id))
    await db.commit()
    r = await client.post(f"/daemons/{daemon.id}/restart", json={"servers": [unlinked.id]},
                          headers=tenant.headers)
    assert "servers" in field_errors(r)
    assert await _placements(db, "daemon", daemon.id) == [linked.id]


async def test_running_a_deploy_pipeline_links_the_servers_it_names(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """Agents (the official MCP server) and the web app deploy by running the resource's
    deploy pipeline with `servers`: that is a deploy too, so it links them."""
    tenant = await create_tenant(db)
    server = await create_server(db, tenant)
    r = await client.post(
        f"/environments/{tenant.environment.id}/daemons", headers=tenant.headers,
        json={"name": "worker", "command": "sleep 100", "process_count": 1,
              "run_as_user": "www-data", "working_directory": "/srv"},
    )
    assert r.status_code == 201, r.text
    daemon_id = r.json()["id"]
    r = await client.get(f"/pipelines/daemon/{daemon_id}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    [deploy] = [p for p in r.json() if p["operation"] == "deploy"]

    elsewhere = await create_server(db, await create_tenant(db))
    r = await client.post(f"/pipelines/{deploy['id']}/actions",
                          json={"servers": [elsewhere.id]}, headers=tenant.headers)
    assert r.status_code in (404, 422), r.text
    assert await _placements(db, "daemon", daemon_id) == []

    r = await client.post(f"/pipelines/{deploy['id']}/actions",
                          json={"servers": [server.id]}, headers=tenant.headers)
    assert r.status_code == 201, r.text
    assert await _placements(db, "daemon", daemon_id) == [server.id]

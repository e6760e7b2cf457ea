from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.resources_common.links import servers_for
from app.servers.models import Server
from tests import resource_factories as f


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "hostname": "web-1",
        "ip_address": "192.0.2.10",
        "ssh_port": 2222,
        "provision_input": {
            "cloud_service_code": "self-hosted-custom",
            "settings": {"os_version_code": "ubuntu_24_04"},
        },
    }
    return base | overrides


async def test_create_stores_connection_details(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/servers",
                          json=body(ssh_user="deploy", max_parallel_actions=0,
                                    blueprint=[{"type": "nginx", "version": "latest"}]),
                          headers=t.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["hostname"] == "web-1" and created["name"] == "web-1"
    assert created["status"] == "pending" and created["active"] is True
    assert created["os"]["os_version_code"] == "ubuntu_24_04"
    assert created["provider_name"] == "self-hosted"
    assert created["environment"]["id"] == t.environment.id
    assert created["project"]["id"] == t.project.id
    assert created["blueprint"]["spec"]["services"][0]["type"] == "nginx"
    server = await db.scalar(select(Server).where(Server.id == created["id"]))
    assert server is not None
    assert (server.ip_address, server.ssh_port, server.ssh_user) == ("192.0.2.10", 2222, "deploy")
    assert server.max_parallel_actions == 0 and server.host_key is None
    assert server.created_by == t.user.id


async def test_defaults(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/servers", json=body(),
                          headers=t.headers)
    assert r.status_code == 201
    server = await db.get(Server, r.json()["id"])
    assert server is not None
    assert (server.max_parallel_actions, server.ssh_user) == (1, "root")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"hostname": "Web_1"}, "hostname"),
        ({"hostname": "-web"}, "hostname"),
        ({"hostname": "a" * 61}, "hostname"),
        ({"ip_address": "300.1.1.1"}, "ip_address"),
        ({"ssh_port": 21}, "ssh_port"),
        ({"ssh_port": 65536}, "ssh_port"),
        ({"max_parallel_actions": 11}, "max_parallel_actions"),
        ({"max_parallel_actions": -1}, "max_parallel_actions"),
        ({"ssh_user": "Root!"}, "ssh_user"),
        ({"provision_input": None}, "provision_input"),
        ({"provision_input": {"cloud_service_code": "mainframe"}},
         "provision_input.cloud_service_code"),
        # A cloud server needs its provider's credential.
        ({"provision_input": {"cloud_service_code": "aws-ec2"}}, "credential_id"),
        ({"blueprint": [{"type": "oracle", "version": "1"}]}, "blueprint.0.type"),
        ({"linked_resources": [{"resource_type": "planet", "resource_id": 1}]},
         "linked_resources.0.resource_type"),
        ({"linked_resources": [{"resource_type": "daemon", "resource_id": 999999}]},
         "linked_resources.0.resource_id"),
    ],
)
async def test_field_rules(
    overrides: dict[str, Any], field: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/servers", json=body(**overrides),
                          headers=t.headers)
    assert field in f.field_errors(r), r.json()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ip_address": None}, "ip_address"),
        ({"ssh_port": None}, "ssh_port"),
        ({"provision_input": {"cloud_service_code": "self-hosted-custom",
                              "settings": {"os_version_code": "windows_95"}}},
         "provision_input.settings"),
    ],
)
async def test_self_hosted_needs_address_and_os(
    overrides: dict[str, Any], field: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/servers", json=body(**overrides),
                          headers=t.headers)
    assert field in f.field_errors(r), r.json()


async def test_hostname_unique_in_environment(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    url = f"/environments/{t.environment.id}/servers"
    assert (await client.post(url, json=body(), headers=t.headers)).status_code == 201
    r = await client.post(url, json=body(), headers=t.headers)
    assert "hostname" in f.field_errors(r)


async def test_linked_resources_run_on_the_new_server(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    daemon = await f.create_daemon(db, t)
    r = await client.post(
        f"/environments/{t.environment.id}/servers",
        json=body(linked_resources=[{"resource_type": "daemon", "resource_id": daemon.id}]),
        headers=t.headers,
    )
    assert r.status_code == 201, r.text
    assert await servers_for(db, "daemon", daemon.id) == [r.json()["id"]]


async def test_update_is_partial(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t, ssh_port=22, max_parallel_actions=4)
    r = await client.put(f"/servers/{server.id}", json={"id": server.id, "ssh_port": 2200},
                         headers=t.headers)
    assert r.status_code == 204 and r.content == b""
    await db.refresh(server)
    assert (server.ssh_port, server.max_parallel_actions, server.ip_address) == (
        2200, 4, "127.0.0.1")
    r = await client.put(f"/servers/{server.id}", json={"id": server.id + 1}, headers=t.headers)
    assert "id" in f.field_errors(r)
    r = await client.put(f"/servers/{server.id}", json={"id": server.id, "ssh_port": 5},
                         headers=t.headers)
    assert "ssh_port" in f.field_errors(r)


async def test_delete_refused_while_resources_run_on_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    daemon = await f.create_daemon(db, t)
    await f.link(db, "daemon", daemon.id, server)
    r = await client.delete(f"/servers/{server.id}", headers=t.headers)
    assert r.status_code == 409
    assert "1 daemon" in r.json()["message"]
    assert (await client.delete(f"/daemons/{daemon.id}", headers=t.headers)).status_code == 204
    assert (await client.delete(f"/servers/{server.id}", headers=t.headers)).status_code == 204


async def test_commands_authorise_the_environment_key(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t, ssh_user="deploy")
    r = await client.get(f"/servers/{server.id}/commands", headers=t.headers)
    assert r.status_code == 200
    command = r.json()["connect_command"]
    # The key as a shell-quoted literal, the single-use callback, and nothing else to fill in.
    assert t.environment.ssh_public_key.strip() in command
    assert f"http://testserver/servers/{server.id}/connect/" in command
    await db.refresh(server)
    assert server.activation_nonce == 0  # reading the command stores nothing


@pytest.mark.parametrize("operation", ["deploy", "get-status", "restart", "rotate-key", "start",
                                       "stop"])
async def test_operations_start_actions(
    operation: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    r = await client.post(f"/servers/{server.id}/{operation}", headers=t.headers)
    await f.assert_action_started(
        client, r, t, resource_type="server", resource_id=server.id, operation=operation,
        server_ids=[server.id],
    )


async def test_connect_with_unknown_token_is_refused(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    r = await client.post(f"/servers/{server.id}/connect/abc")
    assert r.status_code == 401


async def test_a_new_server_never_takes_a_deleted_servers_id_or_history(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """A user deletes the newest server of an environment, then adds another: the new one
    gets an id of its own (clients and scripts keep ids) and starts with no actions."""
    t = await f.create_tenant(db)
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    r = await client.post(f"/environments/{t.environment.id}/servers",
                          json=body(ip_address="127.0.0.1", ssh_port=closed_port),
                          headers=t.headers)
    assert r.status_code == 201, r.text
    old_id = r.json()["id"]
    r = await client.post(f"/servers/{old_id}/get-status", headers=t.headers)
    assert r.status_code == 204, r.text
    r = await client.get(f"/actions/{r.headers['X-Devopness-Action-Id']}",
                         params={"wait": 30}, headers=t.headers)
    assert r.json()["status"] == "failed"  # nothing listens there; the action is history
    assert (await client.delete(f"/servers/{old_id}", headers=t.headers)).status_code == 204
    r = await client.post(f"/environments/{t.environment.id}/servers",
                          json=body(hostname="web-2"), headers=t.headers)
    assert r.status_code == 201, r.text
    new_id = r.json()["id"]
    assert new_id != old_id
    for listing in (f"/actions/server/{new_id}", f"/actions/targets/server/{new_id}"):
        r = await client.get(listing, headers=t.headers)
        assert r.status_code == 200, r.text
        assert r.json() == [], listing

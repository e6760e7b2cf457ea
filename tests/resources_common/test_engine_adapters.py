from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import SecretBox
from app.core.settings import Settings
from app.resources_common.engine_adapters import (
    RESOURCE_TYPES,
    ServerAccessSource,
    scope_resolver,
    target_resolver,
)
from app.resources_common.links import servers_for
from app.servers.models import Server
from tests import resource_factories as f


async def test_servers_for_each_resource_type(db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    web, worker = await f.create_server(db, t), await f.create_server(db, t)
    daemon = await f.create_daemon(db, t)
    await f.link(db, "daemon", daemon.id, worker)
    await f.link(db, "daemon", daemon.id, web)
    certificate = await f.create_ssl_certificate(db, t)
    await f.link(db, "virtual-host", certificate.virtual_host_id, web)
    assert await servers_for(db, "daemon", daemon.id) == sorted([web.id, worker.id])
    assert await servers_for(db, "server", web.id) == [web.id]
    assert await servers_for(db, "server", 987654) == []
    assert await servers_for(db, "ssl-certificate", certificate.id) == [web.id]
    assert await target_resolver("daemon")(db, daemon.id) == sorted([web.id, worker.id])
    scope = await scope_resolver("daemon")(db, daemon.id)
    assert scope is not None
    assert (scope.environment_id, scope.project_id) == (t.environment.id, t.project.id)
    assert await scope_resolver("server")(db, 987654) is None
    assert set(RESOURCE_TYPES) == {
        "application", "cronjob", "daemon", "network-rule", "server", "service", "ssh-key",
        "ssl-certificate", "virtual-host",
    }


async def test_server_access_and_host_key_pinning(db: AsyncSession, settings: Settings) -> None:
    t = await f.create_tenant(db)
    _, private = f.ssh_keypair()
    t.environment.ssh_private_key_encrypted = SecretBox(settings).encrypt(private)
    await db.commit()
    server = await f.create_server(db, t, ip_address="192.0.2.9", ssh_port=2222,
                                   ssh_user="deploy", max_parallel_actions=2)
    source = ServerAccessSource(settings)
    access = await source.get_access(db, server.id)
    assert access is not None
    assert (access.host, access.port, access.username, access.max_parallel_actions) == (
        "192.0.2.9", 2222, "deploy", 2)
    assert access.private_key == private and access.host_key is None
    await source.pin_host_key(db, server.id, "ssh-ed25519 AAAAfirst")
    await source.pin_host_key(db, server.id, "ssh-ed25519 AAAAsecond")
    await db.commit()
    stored = await db.get(Server, server.id)
    assert stored is not None
    await db.refresh(stored)
    assert stored.host_key == "ssh-ed25519 AAAAfirst"
    assert await source.get_access(db, 987654) is None


async def test_hidden_values_for_redaction(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    t = await f.create_tenant(db)
    application = await f.create_application(db, t)
    for key, hidden in (("A", True), ("B", False)):
        r = await client.post(f"/variables/application/{application.id}",
                              json={"key": key, "value": f"value-{key}", "target": "os-env-var",
                                    "type": "variable", "hidden": hidden}, headers=t.headers)
        assert r.status_code == 201
    values = await ServerAccessSource(settings).hidden_values(db, "application", application.id)
    assert values == ["value-A"]

"""The servers each resource runs on, as users read them: the detail (its collections read
by statements built once, `resources_common.repository.Collection`) and the environment's
list (one statement for the page) show the same servers, those linked to that very
resource, in order; never a server linked to another kind of resource that happens to have
the same id. (A virtual host shows no servers: neither the reference nor its schema has
them, and they are not read.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests import resource_factories as f

KINDS: list[tuple[str, str, str, Callable[..., Awaitable[Any]]]] = [
    # link type, detail path, the environment's list, factory
    ("daemon", "/daemons/{id}", "daemons", f.create_daemon),
    ("cronjob", "/cron-jobs/{id}", "cron-jobs", f.create_cron_job),
    ("service", "/services/{id}", "services", f.create_service),
    ("network-rule", "/network-rules/{id}", "network-rules", f.create_network_rule),
    ("ssh-key", "/ssh-keys/{id}", "ssh-keys", f.create_ssh_key),
    ("application", "/applications/{id}", "applications", f.create_application),
]


@pytest.mark.parametrize(("kind", "detail", "listing", "factory"), KINDS,
                         ids=[k[0] for k in KINDS])
async def test_each_resource_shows_the_servers_linked_to_it(
    client: httpx.AsyncClient, db: AsyncSession, kind: str, detail: str, listing: str,
    factory: Callable[..., Awaitable[Any]],
) -> None:
    t = await f.create_tenant(db)
    first, second = await factory(db, t), await factory(db, t)
    servers = [await f.create_server(db, t) for _ in range(3)]
    for server in (servers[2], servers[0]):
        await f.link(db, kind, first.id, server)
    await f.link(db, kind, second.id, servers[1])
    # Same id, another kind of resource: not a server of `first`.
    other_kind = "daemon" if kind != "daemon" else "service"
    await f.link(db, other_kind, first.id, servers[1])
    expected = {first.id: [servers[0].id, servers[2].id], second.id: [servers[1].id]}

    for resource_id, ids in expected.items():
        r = await client.get(detail.format(id=resource_id), headers=t.headers)
        assert r.status_code == 200, r.text
        assert [s["id"] for s in r.json()["servers"]] == ids

    r = await client.get(f"/environments/{t.environment.id}/{listing}", headers=t.headers)
    assert r.status_code == 200, r.text
    listed = {item["id"]: item for item in r.json()}
    assert set(expected) <= set(listed)
    for resource_id, ids in expected.items():
        if "servers" in listed[resource_id]:
            assert [s["id"] for s in listed[resource_id]["servers"]] == ids

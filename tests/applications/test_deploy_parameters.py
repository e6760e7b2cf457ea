"""A deploy's parameters for many servers: read in a fixed number of statements, whatever
the number of servers, and each server's own (its layout settings, the daemons and cron
jobs that run there)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from tests import resource_factories as rf


async def _servers(db: AsyncSession, tenant: Any, application_id: int, n: int) -> list[Any]:
    """`n` servers of the application, each with a layout setting, a cron job and a daemon
    linked to it alone."""
    servers = []
    for _ in range(n):
        server = await rf.create_server(db, tenant)
        await rf.link(db, "application", application_id, server)
        await rf.create_variable(db, tenant, "server", server.id,
                                 key="DEVOPNESS_APPLICATIONS_DIR", value_plain=f"/srv/{server.id}")
        job = await rf.create_cron_job(db, tenant, application_id=application_id)
        await rf.link(db, "cronjob", job.id, server)
        daemon = await rf.create_daemon(db, tenant, application_id=application_id)
        await rf.link(db, "daemon", daemon.id, server)
        servers.append((server, job, daemon))
    return servers


async def test_a_deploys_parameters_take_as_many_statements_for_6_servers_as_for_2(
    app: Any, db: AsyncSession, count_queries: Any
) -> None:
    tenant = await rf.create_tenant(db)
    application = await rf.create_application(db, tenant, repository="/srv/repo.git")
    # Linked to none: it runs on every server of the application.
    everywhere = await rf.create_cron_job(db, tenant, application_id=application.id)
    counts = {}
    for n in (2, 6):
        servers = await _servers(db, tenant, application.id, n)
        requests = [builtins.RunRequest(0, "application", application.id, "deploy", s.id)
                    for s, _, _ in servers]
        async with app.state.database.transaction() as session:
            with count_queries() as counted:
                await builtins.prefetch_contexts(session, requests)
                contexts = [await builtins.build_context(session, r) for r in requests]
        counts[n] = counted.count
        for (server, job, daemon), context in zip(servers, contexts, strict=True):
            assert context.env["DEVOPNESS_APPLICATIONS_DIR"] == f"/srv/{server.id}"
            assert context.env["DEVOPNESS_APP_DAEMON_IDS"] == str(daemon.id)
            jobs = [line.split()[0] for line in context.env["DEVOPNESS_APP_CRONJOBS"].splitlines()]
            assert jobs == sorted([str(everywhere.id), str(job.id)], key=int)
    assert counts[6] == counts[2], counts


async def test_one_servers_parameters_without_a_prefetch_are_the_same(
    app: Any, db: AsyncSession
) -> None:
    """A step that reads its parameters again (`reload_context`) reads one server's alone:
    the same values as when they were read with the others'."""
    tenant = await rf.create_tenant(db)
    application = await rf.create_application(db, tenant, repository="/srv/repo.git")
    servers = await _servers(db, tenant, application.id, 3)
    requests = [builtins.RunRequest(0, "application", application.id, "deploy", s.id)
                for s, _, _ in servers]
    async with app.state.database.transaction() as session:
        await builtins.prefetch_contexts(session, requests)
        together = [(await builtins.build_context(session, r)).env for r in requests]
    alone = []
    for request in requests:
        async with app.state.database.transaction() as session:
            alone.append((await builtins.build_context(session, request)).env)
    assert alone == together

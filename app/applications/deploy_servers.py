"""The parts of a deploy's parameters that depend on the server (`deploy_context`): the
application's daemons and cron jobs that run there and its other deploys still running
there, read for all of a deploy's servers at once (`application_context_prefetch`) or for
one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Integer, Select, String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.models import FINISHED, Action, ActionTarget
from app.cron_jobs.models import CronJob
from app.daemons.models import Daemon
from app.resources_common.models import ResourceServer

_Linked = TypeVar("_Linked", Daemon, CronJob)


async def application_context_prefetch(
    session: AsyncSession, requests: Sequence[builtins.RunRequest]
) -> None:
    """The parts of each server's deploy context that depend on the server, for all the
    servers of a deploy at once (see `builtins.register_context_prefetch`)."""
    actions: dict[tuple[int, int], list[builtins.RunRequest]] = {}
    for request in requests:
        actions.setdefault((request.action_id, request.resource_id), []).append(request)
    memo = builtins.prefetched(session, _HERE)
    for (action_id, application_id), group in actions.items():
        found = await _on_servers(session, group[0], [r.server_id for r in group])
        memo.update({(action_id, application_id, server_id): here
                     for server_id, here in found.items()})


# What `application_context_prefetch` leaves: {(action, application, server): _Here}.
_HERE = "application-on-servers"


@dataclass
class _Here:
    """What a deploy's context holds about one of its servers: the application's daemons
    and cron jobs that run there, and its other deploys still running there."""

    daemons: list[Daemon]
    cronjobs: list[CronJob]
    running: list[int]


async def _on_servers(
    session: AsyncSession, request: builtins.RunRequest, server_ids: list[int]
) -> dict[int, _Here]:
    daemons = await _linked_on(session, Daemon, request.resource_id, server_ids)
    cronjobs = await _linked_on(session, CronJob, request.resource_id, server_ids)
    running = await _running_on(session, request, server_ids)
    return {i: _Here(daemons[i], cronjobs[i], running[i]) for i in server_ids}


async def on_server(session: AsyncSession, request: builtins.RunRequest) -> _Here:
    """The request's server's part: prefetched, or read for it alone."""
    here = builtins.prefetched(session, _HERE).get(
        (request.action_id, request.resource_id, request.server_id))
    if here is None:
        here = (await _on_servers(session, request, [request.server_id]))[request.server_id]
    assert isinstance(here, _Here)
    return here


async def _running_on(
    session: AsyncSession, request: builtins.RunRequest, server_ids: list[int]
) -> dict[int, list[int]]:
    """The application's other deploys still running on each server, whose unfinished
    releases are not leftovers (workers/scripts/lib/release.sh; the releases are named by
    the deploy's time, DEVOPNESS_RELEASE_TIME: when it was asked for, alike everywhere)."""
    found: dict[int, list[int]] = {i: [] for i in server_ids}
    rows = await session.execute(_running_statement(), {
        "resource_type": request.resource_type, "resource_id": request.resource_id,
        "action_id": request.action_id, "server_ids": server_ids})
    for server_id, action_id in rows:
        found[server_id].append(action_id)
    return found


# The statements read for the servers of a deploy are built once per process.
@cache
def _running_statement() -> Select[int, int]:
    return (
        select(ActionTarget.server_id, ActionTarget.action_id).distinct()
        .join(Action, Action.id == ActionTarget.action_id)
        .where(
            Action.resource_type == bindparam("resource_type", type_=String),
            Action.resource_id == bindparam("resource_id", type_=Integer),
            Action.id != bindparam("action_id", type_=Integer),
            ActionTarget.server_id.in_(bindparam("server_ids", expanding=True)),
            ActionTarget.status.not_in(FINISHED),
        )
        .order_by(ActionTarget.action_id)
    )


async def _linked_on(
    session: AsyncSession, model: type[_Linked], application_id: int, server_ids: list[int]
) -> dict[int, list[_Linked]]:
    """The application's daemons (or cron jobs) that run on each server: those linked to
    it, and those linked to no server (they run where their application runs)."""
    items: dict[int, _Linked] = {}
    links: dict[int, set[int]] = {}
    for item, server_id in await session.execute(
            _linked_statement(model), {"application_id": application_id}):
        items.setdefault(item.id, item)
        if server_id is not None:
            links.setdefault(item.id, set()).add(server_id)
    return {s: [item for i, item in items.items() if i not in links or s in links[i]]
            for s in server_ids}


@cache
def _linked_statement(model: type[_Linked]) -> Select[Any, int]:
    """Each of the application's daemons (or cron jobs), once per server it is linked to
    (with None: linked to none), in id order."""
    return (
        select(model, ResourceServer.server_id)
        .outerjoin(ResourceServer, (ResourceServer.resource_type == str(model.RESOURCE_TYPE))
                   & (ResourceServer.resource_id == model.id))
        .where(model.application_id == bindparam("application_id", type_=Integer))
        .order_by(model.id)
    )

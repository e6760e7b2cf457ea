"""Outgoing hooks: real HTTP requests to a local receiver, with retries and records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.core.settings import Settings
from app.hooks import verification
from app.hooks.models import HookRequest
from app.hooks.sender import send_outgoing_hooks
from tests import standins
from tests.conftest import free_port
from tests.factories_credentials import create_tenant
from tests.hooks.conftest import create_hook, pipeline_for


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.failures_left = 0

    async def endpoint(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        if self.failures_left:
            self.failures_left -= 1
            return JSONResponse({"error": "try later"}, status_code=503)
        return JSONResponse({"ok": True})


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()
    app = Starlette(routes=[Route("/notify", target.endpoint, methods=["POST"])])
    with standins.serve(app, free_port()) as url:
        yield target, f"{url}/notify"


async def test_outgoing_hook_retries_and_records_each_attempt(
    app: Any, client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    receiver: tuple[Receiver, str],
) -> None:
    target, url = receiver
    target.received.clear()
    target.failures_left = 1
    tenant = await create_tenant(db)
    pipeline_id = await pipeline_for(db, tenant)
    hook = await create_hook(
        client, tenant, pipeline_id, kind="outgoing", target_url=url, requires_secret=True,
        trigger_when={"events": ["action.completed"]},
        settings={"request_headers": [{"name": "Authorization", "value": "Bearer abc"}],
                  "request_body": {"text": "{{ action.status }} on {{ resource.name }}"}},
    )
    slept: list[float] = []

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)

    variables = {"action": {"id": 3, "status": "completed"}, "resource": {"name": "api"}}
    ids = await send_outgoing_hooks(
        app.state.database, settings, pipeline_id=pipeline_id, event="action.completed",
        variables=variables, action_id=3, sleep=no_wait,
    )
    assert len(ids) == 2 and slept == [settings.outgoing_hook_backoff_seconds]
    headers, body = target.received[-1]
    assert json.loads(body) == {"text": "completed on api"}
    assert headers["authorization"] == "Bearer abc"
    assert verification.verify("sha256", hook["secret"], body, headers["x-hub-signature-256"])

    rows = {r.id: r for r in (await db.scalars(select(HookRequest))).all()}
    first, retry = rows[ids[0]], rows[ids[1]]
    assert (first.response_status_code, retry.response_status_code) == (503, 200)
    assert first.retry_of is None and retry.retry_of == first.id
    assert retry.action_id == 3 and retry.request_headers["Authorization"] == "********"

    # Other events do not match the hook's trigger.
    assert await send_outgoing_hooks(
        app.state.database, settings, pipeline_id=pipeline_id, event="action.started",
        variables=variables, sleep=no_wait,
    ) == []


async def test_outgoing_hook_gives_up_after_the_configured_attempts(
    app: Any, client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
) -> None:
    tenant = await create_tenant(db)
    pipeline_id = await pipeline_for(db, tenant)
    await create_hook(client, tenant, pipeline_id, kind="outgoing",
                      target_url=f"http://127.0.0.1:{free_port()}/nobody-listens")

    async def no_wait(seconds: float) -> None:
        return None

    ids = await send_outgoing_hooks(
        app.state.database, settings, pipeline_id=pipeline_id, event="action.failed",
        variables={}, sleep=no_wait,
    )
    assert len(ids) == settings.outgoing_hook_attempts
    rows = (await db.scalars(select(HookRequest))).all()
    assert {r.response_status_code for r in rows} == {0}
    assert all(r.response_body == {"error": "ConnectError"} for r in rows)


async def test_target_url_placeholders_fill_the_path_and_cannot_move_it(
    app: Any, client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
) -> None:
    """The outgoing-webhook guide comments on a pull request whose number is a placeholder
    in the target URL: the value lands in the path, percent-encoded, whatever it holds."""
    paths: list[str] = []

    async def record(request: Request) -> Response:
        paths.append(request.scope["raw_path"].decode())
        return JSONResponse({"ok": True})

    receiver = Starlette(routes=[Route("/{rest:path}", record, methods=["POST"])])
    with standins.serve(receiver, free_port()) as base:
        tenant = await create_tenant(db)
        pipeline_id = await pipeline_for(db, tenant)
        await create_hook(
            client, tenant, pipeline_id, kind="outgoing",
            target_url=f"{base}/repos/o/r/issues/"
            "{{ action.triggered_from.hook_parsed_variables.pull_request_id }}/comments",
        )
        pr = {"hook_parsed_variables": {"pull_request_id": "42/../../admin?x=1#"}}
        await send_outgoing_hooks(
            app.state.database, settings, pipeline_id=pipeline_id, event="action.completed",
            variables={"action": {"status": "completed", "triggered_from": pr}},
        )
    assert paths == ["/repos/o/r/issues/42%2F..%2F..%2Fadmin%3Fx%3D1%23/comments"]

    r = await client.post(
        f"/pipelines/{pipeline_id}/hooks/outgoing", headers={"Authorization":
                                                             f"Bearer {tenant.token}"},
        json={"name": "moves host", "target_url": "https://{{ action.status }}.example.com/"},
    )
    assert r.status_code == 422 and "target_url" in r.json()["errors"], r.text

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import migrations
from app.core.logging import JsonFormatter, redact
from app.core.settings import Settings
from app.main import create_app
from app.ops.service import WORKER_HEARTBEAT_PREFIX
from tests.factories import auth, user_with_token

REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def make_client(settings: Settings) -> AsyncIterator[Any]:
    apps: list[Any] = []

    async def build(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(settings.model_copy(update=overrides))
        apps.append(app)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    yield build
    for app in apps:
        await app.state.database.dispose()
        if app.state.redis is not None:
            await app.state.redis.aclose()


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert "redis" not in body["checks"]  # embedded mode has no Redis to check


async def test_readyz_names_pending_migrations(make_client: Any, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    old = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    migrations.upgrade(old, "0001")
    migrations.downgrade(old, "base")
    async with await make_client(database_url=url, metrics_token="ops-token") as c:
        r = await c.get("/readyz", headers={"Authorization": "Bearer ops-token"})
    assert r.status_code == 503
    check = r.json()["checks"]["database"]
    assert check["ok"] is False and "migrations pending" in check["detail"]


async def test_readyz_with_redis_needs_a_live_worker(make_client: Any) -> None:
    redis = Redis.from_url(REDIS_TEST_URL)
    try:
        await redis.ping()
    except Exception as exc:  # pragma: no cover - CI always has Redis
        pytest.skip(f"Redis not reachable: {exc}")
    await redis.flushdb()
    try:
        async with await make_client(redis_url=REDIS_TEST_URL) as c:
            r = await c.get("/readyz")
            assert r.status_code == 503
            checks = r.json()["checks"]
            assert checks["redis"]["ok"] is True
            assert checks["worker"]["ok"] is False
        await redis.set(f"{WORKER_HEARTBEAT_PREFIX}worker-a", "alive", ex=30)
        async with await make_client(redis_url=REDIS_TEST_URL, metrics_token="ops-token") as c:
            r = await c.get("/readyz")
            assert r.status_code == 200, r.text
            assert "worker-a" not in r.text  # host names only for operators
            r = await c.get("/readyz", headers={"Authorization": "Bearer ops-token"})
            assert "worker-a" in r.json()["checks"]["worker"]["detail"]
    finally:
        await redis.flushdb()
        await redis.aclose()

    async with await make_client(redis_url="redis://127.0.0.1:1/0") as c:
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["redis"]["ok"] is False
    assert r.json()["checks"]["broker"]["ok"] is False


async def test_readyz_shows_details_only_to_the_metrics_token(make_client: Any) -> None:
    """Anyone may ask whether the server is ready; only operators see why it is not
    (exception text, worker host names, migration ids)."""
    secret = "scrape-secret-value"
    async with await make_client(redis_url="redis://127.0.0.1:1/0", metrics_token=secret) as c:
        anonymous = await c.get("/readyz")
        wrong = await c.get("/readyz", headers={"Authorization": "Bearer nope"})
        operator = await c.get("/readyz", headers={"Authorization": f"Bearer {secret}"})
    for r in (anonymous, wrong):
        assert r.status_code == 503
        assert r.json()["checks"] == {
            "database": {"ok": True}, "redis": {"ok": False}, "broker": {"ok": False},
            "worker": {"ok": False},
        }
        assert "127.0.0.1" not in r.text and "Error" not in r.text
    assert operator.status_code == 503
    assert "Error" in operator.json()["checks"]["redis"]["detail"]


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user, token = await user_with_token(db)
    await client.get(f"/users/{user.id}", headers=auth(token))
    await client.get("/no/such/path/abc123")
    r = await client.get("/metrics")
    assert r.status_code == 200
    text = r.text
    assert (
        'devopness_http_requests_total{method="GET",route="/users/{user_id}",status="200"}' in text
    )
    assert 'route="<unmatched>"' in text
    assert "abc123" not in text
    assert "devopness_http_request_duration_seconds_bucket" in text


async def test_metrics_token(make_client: Any) -> None:
    async with await make_client(metrics_token="scrape-secret-value") as c:
        assert (await c.get("/metrics")).status_code == 401
        r = await c.get("/metrics", headers=auth("wrong"))
        assert r.status_code == 401
        r = await c.get("/metrics", headers=auth("scrape-secret-value"))
        assert r.status_code == 200
        assert "scrape-secret-value" not in r.text


async def test_request_id_is_accepted_or_generated(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"X-Request-Id": "deploy-42.abc"})
    assert r.headers["X-Request-Id"] == "deploy-42.abc"
    r = await client.get("/healthz")
    assert len(r.headers["X-Request-Id"]) == 32
    r = await client.get("/healthz", headers={"X-Request-Id": "bad id; with spaces"})
    assert r.headers["X-Request-Id"] != "bad id; with spaces"
    assert len(r.headers["X-Request-Id"]) == 32
    # Errors carry it too.
    r = await client.get("/nowhere", headers={"X-Request-Id": "req-404"})
    assert r.status_code == 404 and r.headers["X-Request-Id"] == "req-404"


async def test_access_logs_are_json_with_request_id_and_no_secrets(
    client: httpx.AsyncClient, db: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    _, token = await user_with_token(db)
    caplog.set_level(logging.INFO)
    await client.get("/users/me", headers={**auth(token), "X-Request-Id": "trace-me"})
    await client.post("/users/login", json={"email": "a@example.com", "password": "hunter2-pw"})
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    entries = [json.loads(line) for line in lines]
    access = [e for e in entries if e["logger"] == "devopness.access"]
    assert any(e.get("request_id") == "trace-me" and e["status"] == 200 for e in access)
    assert all({"method", "route", "status", "duration_ms"} <= set(e) for e in access)
    everything = "\n".join(lines)
    assert token not in everything
    assert "hunter2-pw" not in everything


def test_redaction_of_known_secret_shapes() -> None:
    samples = {
        "Authorization: Bearer abc.def.ghi": "abc.def.ghi",
        "token dvp_pat_AbC-123_xyz used": "dvp_pat_AbC-123_xyz",
        "jwt eyJhbGciOi.eyJzdWIiOiIxIn0.c2lnbmF0dXJl": "eyJzdWIiOiIxIn0",
        "postgresql://user:s3cr3t@db/x": "s3cr3t",
        '{"password": "p4ssw0rd"}': "p4ssw0rd",
    }
    for text, secret in samples.items():
        assert secret not in redact(text), text

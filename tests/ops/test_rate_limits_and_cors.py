from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from tests.factories import auth, user_with_token


async def test_per_token_limit(
    client: httpx.AsyncClient,
    db: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, token = await user_with_token(db)
    _, other = await user_with_token(db)
    monkeypatch.setattr(settings, "rate_limit_per_minute", 3)
    for _ in range(3):
        r = await client.get("/users/me", headers=auth(token))
        assert r.status_code == 200
    assert r.headers["X-RateLimit-Remaining"] == "0"
    r = await client.get("/users/me", headers=auth(token))
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.json()["message"]
    # Another token has its own budget.
    assert (await client.get("/users/me", headers=auth(other))).status_code == 200


async def test_per_ip_limit_without_token(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "rate_limit_ip_per_minute", 2)
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/healthz")).status_code == 429


async def test_auth_endpoints_are_stricter(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "rate_limit_auth_per_minute", 2)
    body = {"email": "someone@example.com", "password": "whatever-pw"}
    assert (await client.post("/users/login", json=body)).status_code == 401
    assert (await client.post("/users/login", json=body)).status_code == 401
    r = await client.post("/users/login", json=body)
    assert r.status_code == 429 and "Retry-After" in r.headers
    r = await client.post("/users/password/send-reset-link", json={"email": "x@example.com"})
    assert r.status_code == 429
    # Ordinary reads are not affected by the auth budget.
    assert (await client.get("/healthz")).status_code == 200


async def test_rate_limit_can_be_disabled(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "rate_limit_ip_per_minute", 1)
    monkeypatch.setattr(settings, "rate_limit_enabled", False)
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200


async def test_cors_off_by_default(client: httpx.AsyncClient) -> None:
    r = await client.options(
        "/users/me",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers


async def test_cors_for_configured_origins(settings: Settings) -> None:
    from app.main import create_app

    app = create_app(settings.model_copy(update={"cors_origins": ["https://app.example"]}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.options(
            "/users/me",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        r = await c.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        r = await c.get("/healthz", headers={"Origin": "https://app.example"})
        assert "Link" in r.headers["access-control-expose-headers"]
    await app.state.database.dispose()

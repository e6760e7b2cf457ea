"""Protocol conventions every route shares."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import DEFAULT_SECRET_KEY, Settings
from tests.factories import auth, user_with_token


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    r = await client.get("/no/such/route")
    assert r.status_code == 404
    assert r.json() == {"message": "The requested resource was not found."}
    r = await client.patch("/users/me")
    assert r.status_code == 405
    assert r.json()["message"]
    assert "allow" in {k.lower() for k in r.headers}


async def test_non_json_bodies_get_415_and_broken_json_422(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    _, token = await user_with_token(db)
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
        r = await client.post(
            "/users/personal-access-tokens",
            headers={**auth(token), "Content-Type": content_type},
            content=b"name=x",
        )
        assert r.status_code == 415, content_type
    r = await client.post(
        "/users/personal-access-tokens",
        headers={**auth(token), "Content-Type": "application/json"},
        content=b'{"name": ',
    )
    assert r.status_code == 422
    assert r.json()["errors"] == {"body": ["The request body is not valid JSON."]}
    # A charset parameter or a +json media type is still JSON.
    r = await client.post(
        "/users/personal-access-tokens",
        headers={**auth(token), "Content-Type": "application/json; charset=utf-8"},
        content=b"{}",
    )
    assert r.status_code == 422


async def test_oversized_ids_are_not_found(client: httpx.AsyncClient, db: AsyncSession) -> None:
    _, token = await user_with_token(db)
    r = await client.get("/projects/" + "9" * 40 + "/tokens", headers=auth(token))
    assert r.status_code == 404
    r = await client.get("/users/" + "9" * 40, headers=auth(token))
    assert r.status_code == 404


def test_production_refuses_the_default_secret_key() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", secret_key=DEFAULT_SECRET_KEY, _env_file=None)  # type: ignore[call-arg]
    ok = Settings(environment="production", secret_key="x" * 40, _env_file=None)  # type: ignore[call-arg]
    assert ok.environment == "production"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:p@db:5432/x")
    monkeypatch.setenv("REGISTRATION_OPEN", "false")
    monkeypatch.setenv("ACCESS_TOKEN_TTL_SECONDS", "120")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("postgresql")
    assert settings.registration_open is False
    assert settings.access_token_ttl_seconds == 120
    assert not settings.is_sqlite

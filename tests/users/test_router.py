from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from app.users.models import AuthSession, User
from tests.conftest import Mailbox
from tests.factories import (
    PASSWORD,
    auth,
    create_project,
    create_project_token,
    create_role,
    create_user,
    user_with_token,
)


def _token_from(mailbox: Mailbox, email: str, label: str) -> str:
    body = mailbox.body(mailbox.last_to(email))
    match = re.search(rf"{label}: ([0-9a-f]+)", body)
    assert match, body
    return match.group(1)


async def test_sign_up_verify_login_flow(
    client: httpx.AsyncClient, mailbox: Mailbox, db: AsyncSession
) -> None:
    r = await client.post("/users", json={"email": "New.Person@example.com"})
    assert r.status_code == 202
    assert r.content == b""
    user = await db.scalar(select(User).where(User.email == "new.person@example.com"))
    assert user is not None and not user.active and user.email_verified_at is None

    # Not verified yet: no password is set, so there is nothing to log in with.
    r = await client.post(
        "/users/login", json={"email": "new.person@example.com", "password": "whatever1"}
    )
    assert r.status_code == 401

    token = _token_from(mailbox, "new.person@example.com", "verification token")
    r = await client.post(
        "/users/account/verify",
        json={
            "email": "new.person@example.com",
            "token": token,
            "name": "New Person",
            "password": "a-long-password",
        },
    )
    assert r.status_code == 204, r.text
    # The token is single-use.
    r = await client.post(
        "/users/account/verify",
        json={
            "email": "new.person@example.com",
            "token": token,
            "name": "New Person",
            "password": "a-long-password",
        },
    )
    assert r.status_code == 422
    assert "token" in r.json()["errors"]

    r = await client.post(
        "/users/login", json={"email": "new.person@example.com", "password": "a-long-password"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600

    r = await client.get("/users/me", headers=auth(body["access_token"]))
    assert r.status_code == 200
    me = r.json()
    assert me["email"] == "new.person@example.com"
    assert me["name"] == "New Person"
    assert me["active"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", me["created_at"])


async def test_sign_up_rejects_bad_input_and_taken_email(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    r = await client.post("/users", json={"email": "not-an-email"})
    assert r.status_code == 422
    assert "email" in r.json()["errors"]

    r = await client.post("/users")
    assert r.status_code == 422
    assert r.json()["errors"] == {"email": ["The email field is required."]}

    existing = await create_user(db)
    r = await client.post("/users", json={"email": existing.email.upper()})
    assert r.status_code == 422
    assert r.json()["errors"]["email"] == ["The email has already been taken."]


async def test_sign_up_closed_registration(
    client: httpx.AsyncClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    db: AsyncSession,
) -> None:
    monkeypatch.setattr(settings, "registration_open", False)
    r = await client.post("/users", json={"email": "late@example.com"})
    assert r.status_code == 403
    assert await db.scalar(select(User).where(User.email == "late@example.com")) is None


async def test_sign_up_without_verification_needs_name_and_password(
    client: httpx.AsyncClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    mailbox: Mailbox,
    db: AsyncSession,
) -> None:
    monkeypatch.setattr(settings, "email_verification_required", False)
    r = await client.post("/users", json={"email": "solo@example.com"})
    assert r.status_code == 422
    assert set(r.json()["errors"]) == {"name", "password"}

    r = await client.post(
        "/users",
        json={"email": "solo@example.com", "name": "Solo Admin", "password": "long-enough-pw"},
    )
    assert r.status_code == 202
    assert mailbox.messages == []
    user = await db.scalar(select(User).where(User.email == "solo@example.com"))
    assert user is not None and user.active and user.is_verified
    r = await client.post(
        "/users/login", json={"email": "solo@example.com", "password": "long-enough-pw"}
    )
    assert r.status_code == 200


async def test_resend_verification_sends_a_fresh_token(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await client.post("/users", json={"email": "again@example.com"})
    first = _token_from(mailbox, "again@example.com", "verification token")
    r = await client.post("/users/account/resend-verification", json={"email": "again@example.com"})
    assert r.status_code == 202
    second = _token_from(mailbox, "again@example.com", "verification token")
    assert first != second
    # The older token no longer works.
    r = await client.post(
        "/users/account/verify",
        json={
            "email": "again@example.com",
            "token": first,
            "name": "Again",
            "password": "long-enough-pw",
        },
    )
    assert r.status_code == 422
    # Unknown addresses get the same answer, and no mail.
    count = len(mailbox.messages)
    r = await client.post(
        "/users/account/resend-verification", json={"email": "nobody@example.com"}
    )
    assert r.status_code == 202
    assert len(mailbox.messages) == count


async def test_verify_rejects_bad_input(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/users/account/verify",
        json={"email": "x@example.com", "token": "t", "name": "ab", "password": "short"},
    )
    assert r.status_code == 422
    assert set(r.json()["errors"]) == {"name", "password"}


async def test_login_errors_and_brute_force_protection(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    user = await create_user(db)
    r = await client.post("/users/login", json={"email": user.email})
    assert r.status_code == 422
    assert r.json()["errors"] == {"password": ["The password field is required."]}

    for _ in range(settings.login_max_attempts):
        r = await client.post("/users/login", json={"email": user.email, "password": "wrong-pw"})
        assert r.status_code == 401
    # Even the right password is refused while the window lasts.
    r = await client.post("/users/login", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["message"]


async def test_unverified_user_cannot_log_in(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user = await create_user(db, verified=False)
    r = await client.post("/users/login", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 403


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    r = await client.post("/users/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    body: dict[str, str] = r.json()
    return body


async def test_refresh_rotates_and_logout_revokes(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await create_user(db)
    tokens = await _login(client, user.email)

    r = await client.post("/users/refresh-token", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200
    renewed = r.json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    # The spent refresh token cannot be replayed.
    r = await client.post("/users/refresh-token", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    r = await client.post("/users/refresh-token", json={})
    assert r.status_code == 422

    r = await client.get("/users/logout", headers=auth(renewed["access_token"]))
    assert r.status_code == 204
    stored = (await db.scalars(select(AuthSession).where(AuthSession.user_id == user.id))).one()
    await db.refresh(stored)
    assert stored.revoked_at is not None
    r = await client.get("/users/me", headers=auth(renewed["access_token"]))
    assert r.status_code == 401
    r = await client.post("/users/refresh-token", json={"refresh_token": renewed["refresh_token"]})
    assert r.status_code == 401


async def test_bad_bearer_tokens_get_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/users/me")).status_code == 401
    for token in ("garbage", "dvp_pat_unknown", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"):
        r = await client.get("/users/me", headers=auth(token))
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_password_reset_flow(
    client: httpx.AsyncClient, db: AsyncSession, mailbox: Mailbox
) -> None:
    user = await create_user(db)
    session_tokens = await _login(client, user.email)

    r = await client.post("/users/password/send-reset-link", json={"email": user.email})
    assert r.status_code == 202
    token = _token_from(mailbox, user.email, "reset token")

    r = await client.post(
        "/users/password/reset",
        json={
            "token": token,
            "email": user.email,
            "password": "brand-new-pass",
            "password_confirmation": "different-pass",
        },
    )
    assert r.status_code == 422
    assert "password_confirmation" in r.json()["errors"]

    r = await client.post(
        "/users/password/reset",
        json={
            "token": token,
            "email": user.email,
            "password": "brand-new-pass",
            "password_confirmation": "brand-new-pass",
        },
    )
    assert r.status_code == 200
    assert r.json()["message"]
    # Every session ends with a reset, and only the new password works.
    assert (
        await client.get("/users/me", headers=auth(session_tokens["access_token"]))
    ).status_code == 401
    r = await client.post("/users/login", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 401
    await _login(client, user.email, "brand-new-pass")
    # The token was single-use.
    r = await client.post(
        "/users/password/reset",
        json={
            "token": token,
            "email": user.email,
            "password": "another-pass-1",
            "password_confirmation": "another-pass-1",
        },
    )
    assert r.status_code == 422

    count = len(mailbox.messages)
    r = await client.post("/users/password/send-reset-link", json={"email": "ghost@example.com"})
    assert r.status_code == 202
    assert len(mailbox.messages) == count


async def test_get_and_update_user(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user, token = await user_with_token(db)
    other, _ = await user_with_token(db)

    for key in (str(user.id), user.url_slug):
        r = await client.get(f"/users/{key}", headers=auth(token))
        assert r.status_code == 200
        assert r.json() == {"id": user.id, "url_slug": user.url_slug, "type": "user"}
    for key in (str(other.id), other.url_slug, "99999"):
        r = await client.get(f"/users/{key}", headers=auth(token))
        assert r.status_code == 404

    r = await client.put(
        f"/users/{user.id}", headers=auth(token), json={"name": "Renamed Person", "language": "pt"}
    )
    assert r.status_code == 204
    await db.refresh(user)
    assert (user.name, user.language) == ("Renamed Person", "pt")

    r = await client.put(f"/users/{user.id}", headers=auth(token), json={"language": "xx"})
    assert r.status_code == 422 and "language" in r.json()["errors"]
    r = await client.put(f"/users/{other.id}", headers=auth(token), json={"name": "Hijacked"})
    assert r.status_code == 404
    await db.refresh(other)
    assert other.name != "Hijacked"


async def test_billing_urls_and_activity(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user, token = await user_with_token(db)
    await create_project(db, user)

    r = await client.get("/users/billing", headers=auth(token))
    assert r.status_code == 200
    subscription = r.json()["active_subscription"]
    assert subscription["status"] == "active" and subscription["price_total"] == 0
    assert subscription["current_balance"]["credits"]["used"] == 0

    r = await client.get("/users/urls", headers=auth(token))
    assert r.status_code == 200
    assert r.json()["billing_management_url"].startswith("http")

    r = await client.get(f"/users/{user.id}/activity", headers=auth(token))
    assert r.status_code == 200
    assert r.json()["projects"]["owner_of"] == 1


async def test_project_token_cannot_act_as_a_user(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await create_user(db)
    project = await create_project(db, user)
    role = await create_role(db, permissions=["server:read"])
    _, secret = await create_project_token(db, project, role, user)
    for path in ("/users/me", "/users/billing", "/users/personal-access-tokens"):
        r = await client.get(path, headers=auth(secret))
        assert r.status_code == 403, path


async def test_timestamps_are_utc_with_microseconds(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    _, token = await user_with_token(db)
    me = (await client.get("/users/me", headers=auth(token))).json()
    parsed = datetime.strptime(me["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 60

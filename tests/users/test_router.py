from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.users.models import AuthSession, User
from tests.conftest import Mailbox
from tests.factories import PASSWORD, auth, create_user, user_with_token


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

    # Not verified yet: login is refused with 403, not a session.
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
        json={"email": "new.person@example.com", "token": token, "name": "New Person",
              "password": "a-long-password"},
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

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import SecretBox
from app.core.settings import Settings
from app.social_accounts.models import SocialAccount
from tests import standins
from tests.factories import auth, user_with_token


@pytest.fixture
def github_oauth(settings: Settings, providers: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "github_client_id", "gh-client")
    monkeypatch.setattr(settings, "github_client_secret", "gh-secret")


async def test_connect_list_status_and_delete(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, github_oauth: None
) -> None:
    user, token = await user_with_token(db)
    h = auth(token)
    r = await client.get("/social-accounts/github/status", headers=h)
    assert r.status_code == 200
    assert r.json()["connected"] is False and "client_id=gh-client" in r.json()["connect_url"]

    r = await client.post("/social-accounts", headers=h,
                          json={"provider": "github", "callback_code": "wrong"})
    assert r.status_code == 422 and "callback_code" in r.json()["errors"]
    r = await client.post("/social-accounts", headers=h,
                          json={"provider": "github",
                                "callback_code": standins.OAUTH_CODES["github"]})
    assert r.status_code == 201, r.text
    account = r.json()
    assert account["provider_user_nickname"] == "octo" and account["is_vcs"] is True
    assert account["provider_human_readable"] == "GitHub" and account["user_id"] == user.id
    assert standins.GITHUB_TOKEN not in r.text
    stored = await db.get(SocialAccount, account["id"])
    assert stored is not None
    assert SecretBox(settings).decrypt(stored.token_encrypted) == standins.GITHUB_TOKEN

    r = await client.get("/social-accounts", headers=h)
    assert [a["provider"] for a in r.json()] == ["github"]
    r = await client.get("/social-accounts/github", headers=h)
    assert r.json()["id"] == account["id"]
    r = await client.get("/social-accounts/github/status", headers=h)
    assert r.json()["connected"] is True
    r = await client.get("/users/me", headers=h)
    assert [a["provider"] for a in r.json()["social_accounts"]] == ["github"]

    _, other_token = await user_with_token(db)
    assert (await client.get("/social-accounts/github", headers=auth(other_token))).status_code \
        == 404
    r = await client.delete(f"/social-accounts/{account['id']}", headers=auth(other_token))
    assert r.status_code == 404
    r = await client.delete(f"/social-accounts/{account['id']}", headers=h)
    assert r.status_code == 204
    assert (await client.get("/social-accounts/github", headers=h)).status_code == 404
    assert (await client.get("/users/me", headers=h)).json()["social_accounts"] == []


async def test_rules(client: httpx.AsyncClient, db: AsyncSession, settings: Settings) -> None:
    _, token = await user_with_token(db)
    h = auth(token)
    r = await client.post("/social-accounts", headers=h,
                          json={"provider": "github", "callback_code": "abc"})
    assert r.status_code == 422 and "not configured" in r.json()["message"]
    r = await client.post("/social-accounts", headers=h,
                          json={"provider": "myspace", "callback_code": "abc"})
    assert r.status_code == 422 and "provider" in r.json()["errors"]
    r = await client.post("/social-accounts", headers=h, json={"provider": "gitlab"})
    assert r.status_code == 422 and "callback_code" in r.json()["errors"]
    assert (await client.get("/social-accounts/google/status", headers=h)).status_code == 404
    r = await client.get("/social-accounts/gitlab/status", headers=h)
    assert r.json() == {"provider": "gitlab", "connected": False, "connect_url": ""}


async def test_users_me_lists_only_the_callers_own_accounts_in_provider_order(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    # GET /users/me reads the user and their accounts in one joined statement: another
    # user's accounts must not join in, and a user with none is still answered.
    me, token = await user_with_token(db)
    other, other_token = await user_with_token(db)
    _, bare_token = await user_with_token(db)
    for owner, provider in ((me, "gitlab"), (other, "bitbucket"), (me, "github")):
        db.add(SocialAccount(user_id=owner.id, provider=provider,
                             provider_user_id=f"{provider}-{owner.id}",
                             provider_user_nickname=f"nick-{owner.id}",
                             token_encrypted="sealed"))
    await db.commit()

    r = await client.get("/users/me", headers=auth(token))
    assert r.status_code == 200 and r.json()["id"] == me.id
    assert [(a["provider"], a["user_id"]) for a in r.json()["social_accounts"]] == [
        ("github", me.id), ("gitlab", me.id)]
    r = await client.get("/users/me", headers=auth(other_token))
    assert [a["provider"] for a in r.json()["social_accounts"]] == ["bitbucket"]
    r = await client.get("/users/me", headers=auth(bare_token))
    assert r.status_code == 200 and r.json()["social_accounts"] == []

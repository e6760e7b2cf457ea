"""The official SDK (strict response validation) against a real server process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from devopness import DevopnessClient
from devopness.core.api_error import DevopnessApiError
from devopness.models import PersonalAccessTokenUserCreate, PersonalAccessTokenUserRotate

from tests.conftest import Mailbox
from tests.e2e.conftest import LiveServer, sign_up_and_log_in


def _client(server: LiveServer, token: str) -> DevopnessClient:
    return DevopnessClient(
        {"base_url": server.url, "api_token": token, "strict_validation_mode": True}
    )


def test_personal_access_tokens_through_the_sdk(live_server: LiveServer, mailbox: Mailbox) -> None:
    access = sign_up_and_log_in(live_server, mailbox, "sdk-user@example.com", "sdk-password-1")
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")

    session_client = _client(live_server, access)
    created = session_client.api_tokens.add_user_personal_access_token(
        PersonalAccessTokenUserCreate(name="sdk token", expires_at=expires)
    )
    assert created.status == 201
    assert created.data.token

    pat_client = _client(live_server, created.data.token)
    me = pat_client.users.get_user_me()
    assert me.status == 200
    assert me.data.email == "sdk-user@example.com"
    assert me.data.name == "End To End"

    for i in range(4):
        pat_client.api_tokens.add_user_personal_access_token(
            PersonalAccessTokenUserCreate(name=f"extra token {i}", expires_at=expires)
        )
    first = pat_client.api_tokens.list_user_personal_access_tokens(page=1, per_page=2)
    assert first.page_count == 3
    seen = [t.id for t in first.data]
    for page in range(2, first.page_count + 1):
        seen += [
            t.id
            for t in pat_client.api_tokens.list_user_personal_access_tokens(
                page=page, per_page=2
            ).data
        ]
    assert len(seen) == len(set(seen)) == 5

    victim_id = next(i for i in seen if i != created.data.id)
    rotated = pat_client.api_tokens.rotate_user_personal_access_token(
        victim_id, PersonalAccessTokenUserRotate(id=victim_id, expires_at=expires)
    )
    assert rotated.status == 200 and rotated.data.token
    rotated_client = _client(live_server, rotated.data.token)
    assert rotated_client.users.get_user_me().status == 200

    revoked = pat_client.api_tokens.revoke_user_personal_access_token(victim_id)
    assert revoked.status == 204
    with pytest.raises(DevopnessApiError) as caught:
        rotated_client.users.get_user_me()
    assert caught.value.status_code == 401
    fetched = pat_client.api_tokens.get_user_personal_access_token(victim_id)
    assert fetched.data.status == "revoked"

"""api-tokens/personal-access-tokens/view: name, status, expiry, last use."""

from __future__ import annotations

from tests.guides.conftest import Guide, in_days


def test_view_personal_access_token(guide: Guide) -> None:
    _, token = guide.user()
    me = guide.as_other(token)
    created = me.c.api_tokens.add_user_personal_access_token(
        {"name": "ci-deploy", "expires_at": in_days(30)}
    ).data
    me.as_other(created.token).c.users.get_user_me()

    shown = me.c.api_tokens.get_user_personal_access_token(created.id)
    assert shown.status == 200
    assert (shown.data.name, shown.data.status) == ("ci-deploy", "active")
    assert shown.data.expires_at is not None
    assert shown.data.last_used_at is not None

"""api-tokens/personal-access-tokens/add: a token that acts as you, shown once."""

from __future__ import annotations

from tests.guides.conftest import Guide, in_days


def test_add_personal_access_token(guide: Guide) -> None:
    _, token = guide.user()
    me = guide.as_other(token)
    created = me.c.api_tokens.add_user_personal_access_token(
        {"name": "ci-deploy", "expires_at": in_days(30)}
    )
    assert created.status == 201
    secret = created.data.token
    assert secret

    # The token does what the account can do.
    with_token = me.as_other(secret)
    assert with_token.c.users.get_user_me().data.id == me.c.users.get_user_me().data.id
    assert with_token.organization().id
    # Shown only once: reading it back never shows the value again.
    again = me.c.api_tokens.get_user_personal_access_token(created.data.id).data
    assert secret not in str(again.to_dict())

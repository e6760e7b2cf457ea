"""api-tokens/personal-access-tokens/list: every token you own, its status and last use."""

from __future__ import annotations

from tests.guides.conftest import Guide, in_days


def test_list_personal_access_tokens(guide: Guide) -> None:
    _, token = guide.user()
    me = guide.as_other(token)
    active = me.c.api_tokens.add_user_personal_access_token(
        {"name": "active-one", "expires_at": in_days(30)}
    ).data
    revoked = me.c.api_tokens.add_user_personal_access_token(
        {"name": "old-one", "expires_at": in_days(30)}
    ).data
    me.as_other(active.token).c.users.get_user_me()
    me.c.api_tokens.revoke_user_personal_access_token(revoked.id)

    listed = me.c.api_tokens.list_user_personal_access_tokens(per_page=100)
    assert listed.status == 200
    by_id = {t.id: t for t in listed.data}
    assert {active.id, revoked.id} <= set(by_id)
    assert by_id[active.id].status == "active"
    assert by_id[revoked.id].status == "revoked"
    assert by_id[active.id].last_used_at is not None
    # Another person's tokens are not in your list.
    assert active.id not in [t.id for t in guide.c.api_tokens.list_user_personal_access_tokens(
        per_page=100).data]

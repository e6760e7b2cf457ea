"""api-tokens/personal-access-tokens/revoke: it stops authenticating, for good."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide, in_days


def test_revoke_personal_access_token(guide: Guide) -> None:
    _, token = guide.user()
    me = guide.as_other(token)
    created = me.c.api_tokens.add_user_personal_access_token(
        {"name": "ci-deploy", "expires_at": in_days(30)}
    ).data

    revoked = me.c.api_tokens.revoke_user_personal_access_token(created.id)
    assert revoked.status == 204

    # The token can no longer authenticate requests ...
    with pytest.raises(DevopnessApiError) as refused:
        me.as_other(created.token).c.users.get_user_me()
    assert refused.value.status_code == 401
    # ... and its status changes to revoked in the list.
    listed = {t.id: t for t in me.c.api_tokens.list_user_personal_access_tokens().data}
    assert listed[created.id].status == "revoked"

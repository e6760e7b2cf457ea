"""api-tokens/project-api-tokens/revoke: it stops authenticating at once."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide, in_days


def test_revoke_project_api_token(guide: Guide) -> None:
    where = guide.workspace()
    role = guide.role(where.org.id, ["environment:read", "project:read"])
    created = guide.c.api_tokens.add_project_api_token(
        where.project.id, {"name": "ci-pipeline", "role_id": role.id, "expires_at": in_days(30)}
    ).data
    ci = guide.as_other(created.token)
    assert ci.c.environments.get_environment(where.env.id).status == 200

    revoked = guide.c.api_tokens.revoke_project_api_token(where.project.id, str(created.id))
    assert revoked.status == 204

    with pytest.raises(DevopnessApiError) as refused:
        ci.c.environments.get_environment(where.env.id)
    assert refused.value.status_code == 401
    listed = {t.id: t for t in guide.c.api_tokens.list_project_api_tokens(where.project.id).data}
    assert listed[created.id].status == "revoked"

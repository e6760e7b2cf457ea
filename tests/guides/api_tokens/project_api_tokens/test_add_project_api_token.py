"""api-tokens/project-api-tokens/add: a project-only token with a role, shown once."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide, in_days


def test_add_project_api_token(guide: Guide) -> None:
    where = guide.workspace()
    elsewhere = guide.workspace()
    role = guide.role(where.org.id, ["environment:read", "project:read"])

    created = guide.c.api_tokens.add_project_api_token(where.project.id, {
        "name": "ci-pipeline", "role_id": role.id, "expires_at": in_days(30),
    })
    assert created.status == 201
    assert created.data.token
    assert created.data.role.id == role.id

    # The token has access only to the resources of the selected project.
    ci = guide.as_other(created.data.token)
    assert ci.c.environments.get_environment(where.env.id).data.id == where.env.id
    with pytest.raises(DevopnessApiError) as outside:
        ci.c.environments.get_environment(elsewhere.env.id)
    assert outside.value.status_code in (403, 404)
    # Shown only once.
    shown = guide.c.api_tokens.get_project_api_token(where.project.id, str(created.data.id))
    assert created.data.token not in str(shown.data.to_dict())

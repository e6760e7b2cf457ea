"""api-tokens/project-api-tokens/view: name, role, expiration, usage."""

from __future__ import annotations

from tests.guides.conftest import Guide, in_days


def test_view_project_api_token(guide: Guide) -> None:
    where = guide.workspace()
    role = guide.role(where.org.id, ["environment:read", "project:read"])
    created = guide.c.api_tokens.add_project_api_token(
        where.project.id, {"name": "ci-pipeline", "role_id": role.id, "expires_at": in_days(30)}
    ).data
    guide.as_other(created.token).c.environments.get_environment(where.env.id)

    shown = guide.c.api_tokens.get_project_api_token(where.project.id, str(created.id))
    assert shown.status == 200
    token = shown.data
    assert (token.name, token.role.id, token.status) == ("ci-pipeline", role.id, "active")
    assert token.expires_at is not None
    assert token.last_used_at is not None
    assert token.project.id == where.project.id

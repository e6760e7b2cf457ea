"""api-tokens/project-api-tokens/list: each token's status, scope and usage."""

from __future__ import annotations

from tests.guides.conftest import Guide, in_days


def test_list_project_api_tokens(guide: Guide) -> None:
    where = guide.workspace()
    role = guide.role(where.org.id)
    active = guide.c.api_tokens.add_project_api_token(
        where.project.id, {"name": "ci-pipeline", "role_id": role.id, "expires_at": in_days(30)}
    ).data
    old = guide.c.api_tokens.add_project_api_token(
        where.project.id, {"name": "exposed", "role_id": role.id, "expires_at": in_days(30)}
    ).data
    guide.c.api_tokens.revoke_project_api_token(where.project.id, str(old.id))
    other_project = guide.project(where.org.id)
    guide.c.api_tokens.add_project_api_token(
        other_project.id, {"name": "elsewhere", "role_id": role.id, "expires_at": in_days(30)}
    )

    listed = guide.c.api_tokens.list_project_api_tokens(where.project.id)
    assert listed.status == 200
    by_id = {t.id: t for t in listed.data}
    assert set(by_id) == {active.id, old.id}
    assert (by_id[active.id].status, by_id[old.id].status) == ("active", "revoked")
    assert by_id[active.id].role.id == role.id

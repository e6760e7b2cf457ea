"""roles/view-role: each permission the role grants, before it is assigned."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_view_role(guide: Guide) -> None:
    org = guide.organization()
    role = guide.role(org.id, ["environment:read", "server:read", "server:create"])

    shown = guide.c.roles.get_role(role.id)
    assert shown.status == 200
    assert shown.data.name == role.name
    assert sorted(shown.data.permissions) == ["environment:read", "server:create", "server:read"]

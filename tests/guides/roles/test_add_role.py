"""roles/add-role: a name, an optional description, the permissions it allows."""

from __future__ import annotations

from tests.guides.conftest import Guide, unique


def test_add_role(guide: Guide) -> None:
    where = guide.workspace()
    name = unique("Developer")
    created = guide.c.roles.add_organization_role(where.org.id, {
        "name": name, "description": "deploys and reads",
        "permissions": ["environment:read", "application:read", "application:deploy"],
    })
    assert created.status == 201
    role = created.data
    assert (role.name, role.description) == (name, "deploys and reads")
    assert sorted(role.permissions) == [
        "application:deploy", "application:read", "environment:read"
    ]

    # The role is saved in the organization ...
    assert role.id in [r.id for r in guide.c.roles.list_organization_roles(where.org.id).data]
    # ... and you can attach it when creating team memberships.
    team = guide.team(where.org.id)
    guide.c.teams.link_team_to_environment(where.env.id, team.id, {"role_id": role.id})
    memberships = guide.c.teams.list_environment_team_memberships(where.env.id).data
    assert [m.role.id for m in memberships] == [role.id]

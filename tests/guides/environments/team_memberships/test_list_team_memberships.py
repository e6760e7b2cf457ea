"""environments/team-memberships/list-team-memberships: each team and its role."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_list_team_memberships(guide: Guide) -> None:
    where = guide.workspace()
    backend, ops = guide.team(where.org.id), guide.team(where.org.id)
    developer, admin = guide.role(where.org.id), guide.role(where.org.id)
    guide.c.teams.link_team_to_environment(where.env.id, backend.id, {"role_id": developer.id})
    guide.c.teams.link_team_to_environment(where.env.id, ops.id, {"role_id": admin.id})

    listed = guide.c.teams.list_environment_team_memberships(where.env.id)
    assert listed.status == 200
    assert sorted((m.team.name, m.role.name) for m in listed.data) == sorted([
        (backend.name, developer.name), (ops.name, admin.name),
    ])

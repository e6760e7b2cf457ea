"""environments/team-memberships/add-team-membership: a team and a role; members get in."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_add_team_membership(guide: Guide) -> None:
    where = guide.workspace()
    team = guide.team(where.org.id)
    role = guide.role(where.org.id, ["environment:read", "project:read"])
    member = guide.member(team.id)

    linked = guide.c.teams.link_team_to_environment(where.env.id, team.id, {"role_id": role.id})
    assert linked.status == 204

    # The new membership appears in the list with the role intended ...
    memberships = guide.c.teams.list_environment_team_memberships(where.env.id).data
    assert [(m.team.id, m.role.id) for m in memberships] == [(team.id, role.id)]
    # ... and members of the team can access the environment based on the role.
    assert member.c.environments.get_environment(where.env.id).data.id == where.env.id

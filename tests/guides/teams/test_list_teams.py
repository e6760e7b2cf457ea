"""teams/list-teams: every team in the organization, by name."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_list_teams(guide: Guide) -> None:
    org = guide.organization()
    backend, ops = guide.team(org.id), guide.team(org.id)
    guide.team(guide.organization().id)  # another organization's team stays out

    listed = guide.c.teams.list_organization_teams(org.id)
    assert listed.status == 200
    assert sorted((t.id, t.name) for t in listed.data) == sorted(
        [(backend.id, backend.name), (ops.id, ops.name)]
    )
    # You can open a team to assign members or invitations.
    assert guide.c.teams.get_team(ops.id).data.name == ops.name

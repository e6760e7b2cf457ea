"""teams/add-team: a clear name; the team appears in the list and can be used."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide, unique


def test_add_team(guide: Guide) -> None:
    where = guide.workspace()
    name = unique("backend")
    created = guide.c.teams.add_organization_team(where.org.id, {"name": name})
    assert created.status == 201
    team = created.data
    assert team.name == name

    # The new team appears in the team list ...
    assert [t.id for t in guide.c.teams.list_organization_teams(where.org.id).data] == [team.id]
    # ... you can invite people to it and later assign it to environments.
    invited = guide.invitations.add_team_invitation(
        team.id, {"type": "private", "email": "someone@guides.example"}
    )
    assert invited.status == 201
    role = guide.role(where.org.id)
    assert guide.c.teams.link_team_to_environment(
        where.env.id, team.id, {"role_id": role.id}
    ).status == 204

    # Common issues: name is rejected, choose a unique team name.
    with pytest.raises(DevopnessApiError) as taken:
        guide.c.teams.add_organization_team(where.org.id, {"name": name})
    assert taken.value.status_code == 422

"""projects/remove-project: the project and everything inside it go away."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide


def test_remove_project(guide: Guide) -> None:
    where = guide.workspace()
    project, env = where.project, where.env
    team = guide.team(where.org.id)
    role = guide.role(where.org.id)
    guide.c.teams.link_team_to_project(project.id, team.id, {"role_id": role.id})

    removed = guide.c.projects.delete_project(project.id)
    assert removed.status == 204

    # The project no longer appears in the project list ...
    assert project.id not in [p.id for p in guide.c.projects.list_projects(per_page=100).data]
    # ... its environments are no longer available ...
    with pytest.raises(DevopnessApiError) as env_gone:
        guide.c.environments.get_environment(env.id)
    assert env_gone.value.status_code == 404
    # ... and team access to it is removed.
    memberships = guide.c.teams.list_team_memberships(team.id).data
    assert [m for m in memberships if m.project is not None and m.project.id == project.id] == []

"""environments/archive-environment: read-only, settings and memberships kept."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_archive_environment(guide: Guide) -> None:
    where = guide.workspace()
    env = where.env
    team, role = guide.team(where.org.id), guide.role(where.org.id)
    guide.c.teams.link_team_to_environment(env.id, team.id, {"role_id": role.id})

    archived = guide.c.environments.archive_environment(env.id)
    assert archived.status == 204

    # The environment appears in the archived list ...
    archived_list = guide.c.environments.list_project_archived_environments(where.project.id).data
    assert [e.id for e in archived_list] == [env.id]
    assert guide.c.environments.get_environment(env.id).data.is_archived is True
    # ... settings and team memberships stay in place ...
    memberships = guide.c.teams.list_environment_team_memberships(env.id).data
    assert [(m.team.id, m.role.id) for m in memberships] == [(team.id, role.id)]
    # ... and you cannot make active changes in it.
    with pytest.raises(DevopnessApiError) as read_only:
        guide.c.ssh_keys.add_environment_ssh_key(
            env.id, {"name": "laptop", "public_key": ssh_keypair()[0]}
        )
    assert read_only.value.status_code in (403, 409, 422)
    with pytest.raises(DevopnessApiError) as frozen:
        guide.c.environments.update_environment(
            env.id, {"id": env.id, "name": "renamed", "type": env.type}
        )
    assert frozen.value.status_code in (403, 409, 422)

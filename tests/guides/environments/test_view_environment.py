"""environments/view-environment: resources, team memberships and settings."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_view_environment(guide: Guide) -> None:
    where = guide.workspace()
    env = where.env
    guide.c.ssh_keys.add_environment_ssh_key(
        env.id, {"name": "laptop", "public_key": ssh_keypair()[0]}
    )
    team, role = guide.team(where.org.id), guide.role(where.org.id)
    guide.c.teams.link_team_to_environment(env.id, team.id, {"role_id": role.id})

    shown = guide.c.environments.get_environment(env.id)
    assert shown.status == 200
    data = shown.data
    assert (data.id, data.name, data.type) == (env.id, env.name, env.type)
    # A summary of resources in the environment.
    counts = {item.resource_type: item.summary.count for item in data.resource_summary}
    assert counts.get("ssh-key") == 1
    # Team memberships and settings.
    assert [t.id for t in data.teams] == [team.id]
    # Actions such as archive, unarchive or remove: what the viewer may do.
    permissions = data.current_user_permissions
    assert permissions is not None

"""projects/view-project: its environments, teams, roles and API tokens."""

from __future__ import annotations

from tests.guides.conftest import Guide, in_days


def test_view_project(guide: Guide) -> None:
    org = guide.organization()
    project = guide.project(org.id)
    env = guide.environment(project.id, "production")
    team = guide.team(org.id)
    role = guide.role(org.id)
    guide.c.teams.link_team_to_project(project.id, team.id, {"role_id": role.id})
    token = guide.c.api_tokens.add_project_api_token(
        project.id, {"name": "ci-pipeline", "role_id": role.id, "expires_at": in_days(30)}
    ).data

    shown = guide.c.projects.get_project(project.id)
    assert shown.status == 200
    assert shown.data.name == project.name
    assert [e.id for e in guide.c.environments.list_project_environments(project.id).data] == [
        env.id
    ]
    memberships = guide.c.teams.list_project_team_memberships(project.id).data
    assert [(m.team.id, m.role.id) for m in memberships] == [(team.id, role.id)]
    assert role.id in [r.id for r in guide.c.roles.list_organization_roles(org.id).data]
    tokens = guide.c.api_tokens.list_project_api_tokens(project.id).data
    assert [t.id for t in tokens] == [token.id]

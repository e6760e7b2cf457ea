"""projects/add-project: a name in the selected organization."""

from __future__ import annotations

from tests.guides.conftest import Guide, unique


def test_add_project(guide: Guide) -> None:
    org = guide.organization()
    other = guide.organization()
    name = unique("acme-platform")
    created = guide.c.projects.add_organization_project(org.id, {"name": name})
    assert created.status == 201
    project = created.data
    assert project.name == name
    assert project.organization.id == org.id

    # The project appears in the project list for that organization, not in another one.
    mine = guide.c.projects.list_projects().data
    assert any(p.id == project.id and p.organization.id == org.id for p in mine)
    assert not any(p.id == project.id and p.organization.id == other.id for p in mine)
    # You can add environments inside it.
    env = guide.c.environments.add_project_environment(
        project.id, {"name": "Production", "type": "production"}
    ).data
    assert [e.id for e in guide.c.environments.list_project_environments(project.id).data] == [
        env.id
    ]

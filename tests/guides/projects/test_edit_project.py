"""projects/edit-project: a new name; environments stay linked."""

from __future__ import annotations

from tests.guides.conftest import Guide, unique


def test_edit_project(guide: Guide) -> None:
    project = guide.project()
    env = guide.environment(project.id)
    new_name = unique("acme-platform")

    updated = guide.c.projects.update_project(project.id, {"id": project.id, "name": new_name})
    assert updated.status == 204

    shown = guide.c.projects.get_project(project.id).data
    assert shown.name == new_name
    assert [e.id for e in guide.c.environments.list_project_environments(project.id).data] == [
        env.id
    ]

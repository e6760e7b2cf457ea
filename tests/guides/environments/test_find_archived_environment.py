"""environments/find-archived-environment: listed apart from the active ones."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_find_archived_environment(guide: Guide) -> None:
    project = guide.project()
    active = guide.environment(project.id)
    old = guide.environment(project.id)
    guide.c.environments.archive_environment(old.id)

    archived = guide.c.environments.list_project_archived_environments(project.id)
    assert archived.status == 200
    assert [e.id for e in archived.data] == [old.id]
    assert [e.id for e in guide.c.environments.list_project_environments(project.id).data] == [
        active.id
    ]
    # You can open it and review its state.
    assert guide.c.environments.get_environment(old.id).data.is_archived is True

"""environments/list-environments: names and types of one project's environments."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_list_environments(guide: Guide) -> None:
    project = guide.project()
    production = guide.environment(project.id, "production")
    staging = guide.environment(project.id, "staging")
    guide.environment()  # another project's environment stays out of this list

    listed = guide.c.environments.list_project_environments(project.id)
    assert listed.status == 200
    assert sorted((e.id, e.name, e.type) for e in listed.data) == sorted([
        (production.id, production.name, "production"),
        (staging.id, staging.name, "staging"),
    ])
    # A way to open one environment for details.
    assert guide.c.environments.get_environment(staging.id).data.name == staging.name

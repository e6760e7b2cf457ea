"""environments/unarchive-environment: active again, editable again."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_unarchive_environment(guide: Guide) -> None:
    project = guide.project()
    env = guide.environment(project.id)
    guide.c.environments.archive_environment(env.id)

    restored = guide.c.environments.unarchive_environment(env.id)
    assert restored.status == 204

    # The environment appears in the active list, not the archived one ...
    assert env.id in [e.id for e in guide.c.environments.list_project_environments(project.id).data]
    assert guide.c.environments.list_project_archived_environments(project.id).data == []
    # ... and you can edit resources again.
    key = guide.c.ssh_keys.add_environment_ssh_key(
        env.id, {"name": "laptop", "public_key": ssh_keypair()[0]}
    )
    assert key.status == 201

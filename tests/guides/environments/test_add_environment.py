"""environments/add-environment: a name and a type inside the selected project."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide


def test_add_environment(guide: Guide) -> None:
    project = guide.project()
    created = guide.c.environments.add_project_environment(
        project.id, {"name": "Staging", "type": "staging"}
    )
    assert created.status == 201
    env = created.data
    assert (env.name, env.type) == ("Staging", "staging")

    # The environment appears in the environments list with the name and type set ...
    listed = guide.c.environments.list_project_environments(project.id).data
    assert [(e.id, e.name, e.type) for e in listed] == [(env.id, "Staging", "staging")]
    # ... and you can open it and start adding resources.
    assert guide.c.environments.get_environment(env.id).data.is_archived is False
    key = guide.c.ssh_keys.add_environment_ssh_key(env.id, {
        "name": "laptop", "public_key": _public_key(),
    })
    assert key.status == 201

    # Common issues: the name is already used in this project.
    with pytest.raises(DevopnessApiError) as used:
        guide.c.environments.add_project_environment(
            project.id, {"name": "Staging", "type": "production"}
        )
    assert used.value.status_code == 422
    assert "name" in (used.value.errors or {})


def _public_key() -> str:
    from tests.resource_factories import ssh_keypair

    return ssh_keypair()[0]

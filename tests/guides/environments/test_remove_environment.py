"""environments/remove-environment: gone from the list; the others keep working."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide


def test_remove_environment(guide: Guide) -> None:
    project = guide.project()
    keep = guide.environment(project.id)
    old = guide.environment(project.id)

    removed = guide.c.environments.delete_environment(old.id)
    assert removed.status == 204

    assert [e.id for e in guide.c.environments.list_project_environments(project.id).data] == [
        keep.id
    ]
    with pytest.raises(DevopnessApiError) as gone:
        guide.c.environments.get_environment(old.id)
    assert gone.value.status_code == 404
    assert guide.c.environments.get_environment(keep.id).status == 200

"""files/remove-file: remove a configuration file; it no longer appears in the
application's file list."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide


def test_remove_file(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    keep, obsolete = (guide.c.variables.add_variable(application.id, "application", {
        "key": key, "value": "A=1\n", "target": "resource-config-file", "type": "file",
        "hidden": False,
    }).data for key in (".env", "config.yaml"))

    assert guide.c.variables.delete_variable(obsolete.id).status == 204
    files = guide.c.variables.list_variables_by_resource_type(
        application.id, "application", variable_target="resource-config-file").data
    assert [f.id for f in files] == [keep.id]
    with pytest.raises(DevopnessApiError) as gone:
        guide.c.variables.get_variable(obsolete.id)
    assert gone.value.status_code == 404

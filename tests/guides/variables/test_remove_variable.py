"""variables/remove-variable: REMOVE VARIABLE; it is gone from the list."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_remove_variable(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    keep, old = (
        guide.c.variables.add_variable(application.id, "application", {
            "key": key, "value": "1", "target": "os-env-var", "type": "variable",
            "hidden": False,
        }).data
        for key in ("KEEP", "OLD")
    )

    removed = guide.c.variables.delete_variable(old.id)
    assert removed.status == 204
    listed = guide.c.variables.list_variables_by_resource_type(application.id, "application")
    assert [v.id for v in listed.data] == [keep.id]

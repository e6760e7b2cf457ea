"""variables/edit-variable: EDIT, a new value, CONFIRM."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_edit_variable(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    variable = guide.c.variables.add_variable(application.id, "application", {
        "key": "APP_ENV", "value": "staging", "target": "os-env-var", "type": "variable",
        "hidden": False,
    }).data

    edited = guide.c.variables.update_variable(variable.id, {
        "id": variable.id, "key": "APP_ENV", "value": "production", "target": "os-env-var",
        "type": "variable", "hidden": False,
    })
    assert edited.status == 204
    assert guide.c.variables.get_variable(variable.id).data.value == "production"

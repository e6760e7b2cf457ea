"""variables/add-variable: ADD VARIABLE on an application's VARIABLES tab."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_add_variable(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)

    added = guide.c.variables.add_variable(application.id, "application", {
        "key": "APP_ENV", "value": "production", "target": "os-env-var", "type": "variable",
        "hidden": False,
    })
    assert added.status == 201
    variable = added.data
    assert (variable.key, variable.value, variable.target) == (
        "APP_ENV", "production", "os-env-var"
    )
    listed = guide.c.variables.list_variables_by_resource_type(application.id, "application")
    assert [v.key for v in listed.data] == ["APP_ENV"]
    # A secret: hidden, its value is not shown back.
    secret = guide.c.variables.add_variable(application.id, "application", {
        "key": "DB_PASSWORD", "value": "hunter2", "target": "os-env-var", "type": "variable",
        "hidden": True,
    }).data
    assert guide.c.variables.get_variable(secret.id).data.value != "hunter2"

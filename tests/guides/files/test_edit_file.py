"""files/edit-file: a configuration file's new name or content, saved; the file list shows
the new name and content."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_edit_file(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    file = guide.c.variables.add_variable(application.id, "application", {
        "key": ".env", "value": "DATABASE_URL=postgres://old-host/acme\n",
        "target": "resource-config-file", "type": "file", "hidden": False,
    }).data

    # A revised `.env`: the same key, a new database URL.
    revised = "DATABASE_URL=postgres://new-host/acme\n"
    edited = guide.c.variables.update_variable(file.id, {
        "id": file.id, "key": ".env", "value": revised, "target": "resource-config-file",
        "type": "file", "hidden": False,
    })
    assert edited.status == 204
    assert guide.c.variables.get_variable(file.id).data.value == revised

    # The other prompt: rename it, keeping its content.
    guide.c.variables.update_variable(file.id, {
        "id": file.id, "key": "config/app.env", "value": revised,
        "target": "resource-config-file", "type": "file", "hidden": False,
    })
    files = guide.c.variables.list_variables_by_resource_type(
        application.id, "application", variable_target="resource-config-file").data
    assert [(f.id, f.key) for f in files] == [(file.id, "config/app.env")]
    assert guide.c.variables.get_variable(file.id).data.value == revised

"""files/view-file: a configuration file's name and path, its content, and when it was
created and last updated."""

from __future__ import annotations

from tests.guides.conftest import Guide

CONTENT = "DATABASE_URL=postgres://user:pass@host:5432/acme\nAPI_KEY=your-api-key\n"


def test_view_file(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    added = guide.c.variables.add_variable(application.id, "application", {
        "key": "config/.env", "value": CONTENT, "target": "resource-config-file",
        "type": "file", "hidden": False,
    }).data

    file = guide.c.variables.get_variable(added.id).data
    assert (file.key, file.type, file.value) == ("config/.env", "file", CONTENT)
    assert (file.resource_type, file.resource_id) == ("application", application.id)
    assert file.created_at and file.updated_at

"""applications/edit-application: change the branch, root directory and commands; the
application and its linked resources stay."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_edit_application(guide: Guide) -> None:
    where = guide.workspace()
    server = guide.loopback_server(where.env.id)
    application = guide.application(where, server_id=server.id)

    # Change only the fields that need an update (the reference also requires the name
    # and the stack, sent back as they are).
    updated = guide.c.applications.update_application(application.id, {
        "id": application.id, "name": application.name,
        "programming_language": application.programming_language,
        "framework": application.framework, "engine_version": application.engine_version,
        "default_branch": "release", "root_directory": "/services/api",
        "install_dependencies_command": "pip install -r requirements.txt",
        "build_command": "python manage.py collectstatic --noinput",
    })
    assert updated.status in (200, 204)

    # The details show the updated settings; the rest is as it was.
    opened = guide.c.applications.get_application(application.id).data
    assert opened.id == application.id
    assert (opened.default_branch, opened.root_directory) == ("release", "/services/api")
    assert opened.install_dependencies_command == "pip install -r requirements.txt"
    assert opened.build_command == "python manage.py collectstatic --noinput"
    assert (opened.name, opened.repository) == (application.name, application.repository)
    # Existing linked resources stay attached.
    assert [s.id for s in opened.servers] == [server.id]
    listed = guide.c.applications.list_environment_applications(where.env.id).data
    assert [a.id for a in listed] == [application.id]

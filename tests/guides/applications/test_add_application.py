"""applications/add-application: a repository read by a source-provider credential, a
name, the stack, the root directory and the default branch, in the selected environment."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_add_application(guide: Guide) -> None:
    where = guide.workspace()
    credential = guide.github_credential(where.org.id, where.env.id)

    created = guide.c.applications.add_environment_application(where.env.id, {
        "credential_id": credential.id, "repository": "acme/api", "name": "acme-api",
        "programming_language": "python", "framework": "django", "engine_version": "3.12",
        "root_directory": "/apps/api", "default_branch": "main",
    })
    assert created.status == 201
    application = created.data

    # The application appears in the environment list with the name and repository ...
    listed = guide.c.applications.list_environment_applications(where.env.id).data
    assert [(a.id, a.name, a.repository) for a in listed] == [
        (application.id, "acme-api", "acme/api")
    ]
    # ... the repository and credential match the git host selected ...
    opened = guide.c.applications.get_application(application.id).data
    assert (opened.repository_owner, opened.repository_name) == ("acme", "api")
    assert opened.credential is not None
    assert (opened.credential.id, opened.credential.provider.code) == (credential.id, "github")
    # ... and the root directory points to the folder with the package manager file.
    assert opened.root_directory == "/apps/api"
    assert (opened.programming_language, opened.framework, opened.engine_version) == (
        "python", "django", "3.12")
    assert opened.default_branch == "main"
    # No server is chosen yet: the first deploy links one (deploy-application).
    assert opened.servers == []

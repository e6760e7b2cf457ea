"""applications/view-application: one application's repository, deploy settings and
related resources (pipelines, deployments, servers, variables, virtual hosts)."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_view_application(guide: Guide) -> None:
    where = guide.workspace()
    server = guide.loopback_server(where.env.id)
    application = guide.application(where, server_id=server.id)
    guide.c.variables.add_variable(application.id, "application", {
        "key": "APP_ENV", "value": "staging", "type": "variable", "target": "os-env-var",
        "hidden": False,
    })
    host = guide.c.virtual_hosts.add_environment_virtual_host(where.env.id, {
        "type": "name-based", "name": "view.guides.example", "application_id": application.id,
    }).data

    opened = guide.c.applications.get_application(application.id).data
    # The application expected, its repository details and deploy configuration ...
    assert (opened.id, opened.name, opened.repository) == (
        application.id, application.name, "octo/repo-1")
    assert (opened.default_branch, opened.root_directory) == ("main", application.root_directory)
    assert (opened.programming_language, opened.framework, opened.engine_version) == (
        "python", "django", "3.12")
    assert opened.credential is not None
    # ... and its related resources: servers, virtual hosts, deployments ...
    assert [s.id for s in opened.servers] == [server.id]
    assert [v.id for v in opened.virtual_hosts] == [host.id]
    assert opened.last_deployments is not None
    # ... pipelines and variables (their tabs).
    pipelines = guide.c.pipelines.list_pipelines_by_resource_type(
        application.id, "application").data
    assert "deploy" in [p.operation for p in pipelines]
    variables = guide.c.variables.list_variables_by_resource_type(
        application.id, "application").data
    assert [(v.key, v.value) for v in variables] == [("APP_ENV", "staging")]

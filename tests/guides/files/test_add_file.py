"""files/add-file: an application's configuration file, its name (`.env`) and content
(one setting a line); it appears in the application's file list with that name, path and
content, and the next deploy of the application puts it in place on the server.

The deploy is real: the application's source is a git repository on the connected loopback
server (cloned from it through `DEVOPNESS_GIT_URL`), deployed there over SSH."""

from __future__ import annotations

import shlex

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Connected, step_logs, wait_action

CONTENT = "DATABASE_URL=postgres://user:pass@host:5432/acme\nAPI_KEY=your-api-key\n"


def _repository(connected: Connected) -> str:
    """A bare repository on the machine with one commit on `main`; its file:// URL."""
    bare = connected.machine.home / "acme-api.git"
    work = connected.machine.home / "acme-api-work"
    connected.machine.sh(
        f"rm -rf {bare} {work} && git init -q --bare -b main {bare} && "
        f"git init -q -b main {work} && cd {work} && echo hello > index.html && "
        "git add -A && git -c user.name=Dev -c user.email=dev@example.test "
        f"commit -q -m first && git push -q {shlex.quote(str(bare))} HEAD:refs/heads/main"
    )
    return f"file://{bare}"


def test_add_file(guide: Guide, connected: Connected) -> None:
    application = guide.application(connected.where, server_id=connected.server.id,
                                    stack=("html", "none", "none"))
    guide.c.variables.add_variable(application.id, "application", {
        "key": "DEVOPNESS_GIT_URL", "value": _repository(connected), "target": "os-env-var",
        "type": "variable", "hidden": False,
    })

    added = guide.c.variables.add_variable(application.id, "application", {
        "key": ".env", "value": CONTENT, "target": "resource-config-file", "type": "file",
        "hidden": False,
    })
    assert added.status == 201
    # Verify: in the application's configuration file list, with its name, path, content.
    files = guide.c.variables.list_variables_by_resource_type(
        application.id, "application", variable_target="resource-config-file").data
    assert [(f.key, f.type) for f in files] == [(".env", "file")]
    assert guide.c.variables.get_variable(added.data.id).data.value == CONTENT

    # After you save: deploy the application; the deploy picks the file up.
    deployed = wait_action(guide, guide.c.applications.add_application_deployment(
        application.id, {"type": "deploy", "source_type": "branch", "source_ref": "main"},
    ).action_id)
    assert deployed.status == "completed", step_logs(guide, deployed)
    live = connected.machine.home / application.name / "current"
    assert (live / ".env").read_text() == CONTENT

"""What reaches a shell: variables, one-line fields, result lines and the scripts' own
pipelines, tried as a narrowly scoped tenant would."""

from __future__ import annotations

import importlib
import re
import typing
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.core.schemas import RequestModel
from app.resources_common import validators
from tests import resource_factories as rf
from tests.factories import create_project_token, create_role
from workers.engine import scripts

SCRIPTS = Path(scripts.SCRIPTS_DIR)


async def narrow_token(
    db: AsyncSession, tenant: rf.Tenant, permissions: list[str]
) -> dict[str, str]:
    role = await create_role(db, permissions=permissions)
    _, secret = await create_project_token(db, tenant.project, role, tenant.user)
    return {"Authorization": f"Bearer {secret}"}


def variable(key: str, value: str = "x", **extra: Any) -> dict[str, Any]:
    return {"key": key, "value": value, "target": "os-env-var", "type": "variable",
            "hidden": False} | extra


# --- hole 2: variables run as code, as root -----------------------------------------------

RESERVED = ["DEVOPNESS_NGINX_BIN", "DEVOPNESS_NGINX_CONF", "DEVOPNESS_HEALTH_CHECK_COMMAND",
            "PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_ENV", "ENV", "IFS", "SHELLOPTS",
            "PS4", "PROMPT_COMMAND", "REQUESTS_CA_BUNDLE", "GIT_SSH_COMMAND",
            "BASH_FUNC_dv_root%%", "devopness_nginx_bin"]


@pytest.mark.parametrize("key", RESERVED)
async def test_a_narrow_token_cannot_set_a_name_the_scripts_read(
    client: httpx.AsyncClient, db: AsyncSession, key: str
) -> None:
    t = await rf.create_tenant(db)
    server = await rf.create_server(db, t)
    headers = await narrow_token(db, t, ["variable:create", "variable:update", "variable:read",
                                         "virtual-host:deploy", "server:read"])
    r = await client.post(f"/variables/server/{server.id}",
                          json=variable(key, "/tmp/evil\n* * * * * root id"), headers=headers)
    assert r.status_code == 422, r.text
    assert "key" in r.json()["errors"], r.text
    # Nor by renaming a harmless variable.
    r = await client.post(f"/variables/server/{server.id}", json=variable("GREETING"),
                          headers=headers)
    assert r.status_code == 201, r.text
    vid = r.json()["id"]
    r = await client.put(f"/variables/{vid}", json=variable(key) | {"id": vid}, headers=headers)
    assert r.status_code == 422, r.text
    assert "key" in r.json()["errors"]
    r = await client.get(f"/variables/server/{server.id}", headers=headers)
    assert [v["key"] for v in r.json()] == ["GREETING"]


async def test_application_deploy_settings_need_the_right_to_update_the_application(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await rf.create_tenant(db)
    application = await rf.create_application(db, t)
    narrow = await narrow_token(db, t, ["variable:create", "variable:read",
                                        "application:deploy", "application:read"])
    for key in ("DEVOPNESS_HEALTH_CHECK_COMMAND", "DEVOPNESS_GIT_URL"):
        r = await client.post(f"/variables/application/{application.id}",
                              json=variable(key, "id > /tmp/pwned"), headers=narrow)
        assert r.status_code == 403, r.text
    # The owner (who may change the repository and build command anyway) may.
    r = await client.post(f"/variables/application/{application.id}",
                          json=variable("DEVOPNESS_HEALTH_CHECK_COMMAND", "test -f index.html"),
                          headers=t.headers)
    assert r.status_code == 201, r.text
    # ...with values of the right shape: no option, no command-running transport.
    for key, value in (("DEVOPNESS_GIT_URL", "--upload-pack=touch /tmp/x"),
                       ("DEVOPNESS_GIT_URL", "ext::sh -c touch% /tmp/x"),
                       ("DEVOPNESS_HEALTH_CHECK_RETRIES", "2; id"),
                       ("DEVOPNESS_HEALTH_CHECK_URL", "file:///etc/shadow"),
                       ("DEVOPNESS_HEALTH_CHECK_COMMAND", "true\nid")):
        r = await client.post(f"/variables/application/{application.id}",
                              json=variable(key, value), headers=t.headers)
        assert r.status_code == 422, (key, value, r.text)
        assert "value" in r.json()["errors"]
    # Other resources never take them.
    server = await rf.create_server(db, t)
    r = await client.post(f"/variables/server/{server.id}",
                          json=variable("DEVOPNESS_GIT_URL", "https://example.com/x.git"),
                          headers=t.headers)
    assert r.status_code == 422, r.text


async def test_stored_names_the_scripts_read_never_reach_a_script(
    db: AsyncSession, app: Any
) -> None:
    """Rows stored before names were reserved (or by the operator) are filtered when a
    script's parameters are built: only layout settings of the expected shape pass."""
    t = await rf.create_tenant(db)
    server = await rf.create_server(db, t)
    host = await rf.create_virtual_host(db, t)
    stored = {
        "DEVOPNESS_NGINX_BIN": "/tmp/evil", "PATH": "/tmp/evil", "LD_PRELOAD": "/tmp/e.so",
        "BASH_ENV": "/tmp/evil", "REQUESTS_CA_BUNDLE": "/ca.pem\n* * * * * id",
        "DEVOPNESS_NGINX_DIR": "/srv/nginx", "DEVOPNESS_NGINX_HTTP_PORT": "8080; id",
        "DEVOPNESS_BASE_PACKAGES": "-o APT::Update::Pre-Invoke::=id", "GREETING": "hi",
        "DEVOPNESS_VH_ROOT": "/etc",
    }
    for key, value in stored.items():
        await rf.create_variable(db, t, "server", server.id, key=key, value_plain=value)
    request = builtins.RunRequest(1, "virtual-host", host.id, "deploy", server.id)
    context = await builtins.build_context(db, request)
    leaked = {k: context.env[k] for k in stored if k in context.env and context.env[k] == stored[k]}
    assert leaked == {"DEVOPNESS_NGINX_DIR": "/srv/nginx"}


def test_no_script_runs_a_program_named_by_a_variable() -> None:
    """The nginx binary is looked up in fixed places, never taken from a variable; the one
    command a variable may hold (an application's health check, set by whoever may change
    its build command) runs as the deploy user, never through root."""
    text = "\n".join(p.read_text() for p in SCRIPTS.rglob("*.sh"))
    assert "DEVOPNESS_NGINX_BIN" not in text
    assert not re.search(r"\beval\b", text)
    health = (SCRIPTS / "application/health-check.sh").read_text()
    assert "dv_root" not in health and "sudo" not in health


# --- hole 10: control characters in fields that reach a file or a command line ----------

ONE_LINE_CASES = [
    ("daemon", "working_directory", "/srv/app\nExecStartPre=/bin/sh -c id"),
    ("daemon", "command", "sleep 100\nExecStartPre=/bin/id"),
    ("daemon", "name", "w\nx"),
    ("cron-job", "name", "nightly\n* * * * * id"),
    ("cron-job", "command", "echo hi\r* * * * * id"),
    ("virtual-host", "root_directory", "/srv/www;\n    include /etc/shadow"),
    ("virtual-host", "application_listen_address", "http://127.0.0.1:8080\nx"),
]


async def _create(client: httpx.AsyncClient, t: rf.Tenant, kind: str, overrides: dict[str, str]
                  ) -> httpx.Response:
    env = t.environment.id
    bodies: dict[str, tuple[str, dict[str, Any]]] = {
        "daemon": (f"/environments/{env}/daemons",
                   {"name": "worker", "command": "sleep 100", "process_count": 1,
                    "working_directory": "/srv", "run_as_user": "www-data"}),
        "cron-job": (f"/environments/{env}/cron-jobs",
                     {"name": "nightly", "command": "echo hello", "pattern": "0 0 * * *",
                      "run_as_user": "www-data"}),
        "virtual-host": (f"/environments/{env}/virtual-hosts",
                         {"type": "name-based", "name": "shop.example.com",
                          "root_directory": "/srv/www"}),
    }
    path, body = bodies[kind]
    return await client.post(path, json=body | overrides, headers=t.headers)


@pytest.mark.parametrize(("kind", "field", "value"), ONE_LINE_CASES)
async def test_a_line_break_in_a_field_is_refused_naming_the_field(
    client: httpx.AsyncClient, db: AsyncSession, kind: str, field: str, value: str
) -> None:
    t = await rf.create_tenant(db)
    r = await _create(client, t, kind, {field: value})
    assert r.status_code == 422, r.text
    assert field in r.json()["errors"], r.text


# The request fields that may hold several lines: file contents, PEM blocks, free text.
MULTI_LINE = {
    ("variables", "value"), ("variables", "description"),
    ("ssl_certificates", "custom_private_key"), ("ssl_certificates", "custom_certificate"),
    ("actions", "command"), ("actions", "description"), ("actions", "trigger_comment"),
    ("applications", "trigger_comment"), ("applications", "template_inputs"),
    ("applications", "template_id"), ("applications", "template"),
    ("actions", "conditions"),
}
# The request schemas whose text reaches a server (a file or a command line there).
SERVER_FACING = ["actions", "applications", "cron_jobs", "daemons", "network_rules", "servers",
                 "services", "ssh_keys", "ssl_certificates", "variables", "virtual_hosts"]


def _has_one_line_rule(annotation: Any, metadata: list[Any]) -> bool:
    for item in metadata:
        if getattr(item, "func", None) is validators.refuse_control_characters:
            return True
    for arg in typing.get_args(annotation):
        if _has_one_line_rule(arg, list(getattr(arg, "__metadata__", ()))):
            return True
    return False


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    if typing.get_origin(annotation) is dict:
        return False  # a mapping's keys are not a field's text
    return any(_is_text(arg) for arg in typing.get_args(annotation))


@pytest.mark.parametrize("package", SERVER_FACING)
def test_every_one_line_field_refuses_control_characters(package: str) -> None:
    module = importlib.import_module(f"app.{package}.schemas")
    missing = []
    for name, model in vars(module).items():
        if not (isinstance(model, type) and issubclass(model, RequestModel)
                and model.__module__ == module.__name__):
            continue
        for field_name, field in model.model_fields.items():
            if (package, field_name) in MULTI_LINE or not _is_text(field.annotation):
                continue
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                continue
            if not _has_one_line_rule(field.annotation, list(field.metadata)):
                missing.append(f"{name}.{field_name}")
    assert missing == [], f"text fields without the one-line rule: {missing}"


# --- issue 16 item 3: "" means "not set" for paths ----------------------------------------

async def test_empty_paths_mean_the_application_root(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await rf.create_tenant(db)
    application = await rf.create_application(db, t)
    r = await _create(client, t, "daemon", {"working_directory": "",
                                            "application_id": application.id})
    assert r.status_code in (200, 201), r.text
    assert r.json()["working_directory"] is None
    r = await _create(client, t, "virtual-host", {"root_directory": "",
                                                  "application_id": application.id})
    assert r.status_code in (200, 201), r.text
    assert r.json()["root_directory"] is None


# --- ##devopness-result lines --------------------------------------------------------------

def test_result_lines_count_only_from_the_running_script_with_its_token() -> None:
    scanner = builtins.ResultScanner()
    scanner.expect(scripts.result_keys("server/get-status"))
    program = scripts.render("server/get-status", {}, result_token=scanner.token)
    assert scanner.token in program
    # The token is a shell variable of the script, not exported to what it starts.
    assert "export DV_RESULT_TOKEN" not in program
    scanner.feed(
        "##devopness-result ip_address=203.0.113.9\n"  # forged: no token
        f"##devopness-result {scanner.token} ip_address=203.0.113.9\n"  # not its key
        f"##devopness-result {scanner.token} os_id=debian\n"
        f"##devopness-result {'0' * len(scanner.token)} os_version=99\n"
    )
    scanner.close()
    assert scanner.results == {"os_id": "debian"}


# --- issue 16 item 6: no early-exit reader at the end of a pipeline under pipefail --------

_EARLY_EXIT = re.compile(
    r"(?<!\|)\|(?!\|)\s*(?:"
    r"grep\b[^|;&]*?(?:\s-[a-zA-Z]*[qm]|--quiet|--silent|--max-count|>\s*/dev/null)"
    r"|head\b"
    r"|awk\b(?:(?!\bEND\b)[^|])*\bexit\b"
    r"|sed\b[^|]*\bq\b"
    r")"
)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not buffer:
            start = number
        stripped = raw.split(" #", 1)[0] if not raw.lstrip().startswith("#") else ""
        if stripped.rstrip().endswith("\\"):
            buffer += stripped.rstrip()[:-1] + " "
            continue
        lines.append((start, buffer + stripped))
        buffer = ""
    return lines


def test_no_script_ends_a_pipeline_with_a_reader_that_stops_early() -> None:
    """`producer | grep -q` (or `| head`, `| grep ... >/dev/null`): once the reader stops,
    the producer dies of SIGPIPE and, under pipefail, the whole pipeline fails, so a wait
    loop runs all its tries and an `if` takes the wrong branch."""
    found = []
    for path in sorted(SCRIPTS.rglob("*.sh")):
        for number, text in _logical_lines(path.read_text()):
            if _EARLY_EXIT.search(text):
                found.append(f"{path.relative_to(SCRIPTS)}:{number}: {text.strip()}")
    assert found == []


def test_the_pipeline_check_finds_the_pattern() -> None:
    for bad in ('if dv_nginx_workers "$pid" | grep -qvxF -e "$w"; then break; fi',
                "x=$(sed -n p f | head -n 1)",
                'cmd | grep -F "x" >/dev/null',
                "cmd | awk '{ print; exit }'"):
        assert _EARLY_EXIT.search(bad), bad
    for good in ('grep -q x <<<"$out"', "a || grep -q x f", "cmd | awk '{n++} END { exit !n }'",
                 "cmd | grep -c x", "cmd | tail -n 1"):
        assert not _EARLY_EXIT.search(good), good

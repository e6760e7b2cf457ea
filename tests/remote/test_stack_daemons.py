"""The Node.js + Express guide, from the user's side: an application with its stack
(Node.js 22, Express), variables PORT and NODE_ENV, a daemon `npm start` linked to it, a
virtual host proxying to the daemon's port, then deploys. The daemon is the application's
own: installed by the application's deploy, started in the live release with the
application's variables and runtime, restarted on every deploy and rollback, and a
release whose daemon does not start is switched back with the daemon's output in the log.

The daemons here run under the SSH user's own supervisord (no root); the systemd rendering
is checked at the end by running what its unit file says to run.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.applications.runtimes import bin_directory
from tests.actions.ssh_servers import free_port
from tests.remote.conftest import Remote
from tests.remote.git_repos import GitRepo, make_repo
from tests.remote.test_application_deploy import release_of, release_path
from tests.remote.test_daemons import helpers
from tests.virtual_hosts.nginx_layout import NginxLayout, make_layout

NODE = "/usr/bin/node"
# A tiny server that answers with what it runs with.
SERVER_JS = """\
const http = require("http");
const fs = require("fs");
const info = {
  cwd: process.cwd(), pid: process.pid, version: fs.readFileSync("version.txt", "utf8").trim(),
  built: fs.existsSync("build.txt"), port: process.env.PORT, node_env: process.env.NODE_ENV,
  path: process.env.PATH, via_runtime_bin: process.env.VIA_RUNTIME_BIN || "",
};
http.createServer((req, res) => {
  res.statusCode = info.version === "bad" ? 500 : 200;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(info));
}).listen(Number(process.env.PORT), "127.0.0.1");
"""
CRASH_JS = """\
console.error("boom: DATABASE_URL is not set");
process.exit(3);
"""
PACKAGE_JSON = json.dumps({
    "name": "express-guide", "version": "1.0.0", "private": True,
    "scripts": {"start": "node server.js", "build": "node -e \"require('fs')"
                ".writeFileSync('build.txt', process.env.NODE_ENV || '')\""},
})
PACKAGE_LOCK = json.dumps({
    "name": "express-guide", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
    "packages": {"": {"name": "express-guide", "version": "1.0.0"}},
})

pytestmark = pytest.mark.skipif(not Path(NODE).exists(), reason="node is not installed")


@pytest.fixture(autouse=True)
def shut_down_supervisord(remote: Remote) -> Iterator[None]:
    yield
    remote.sh("c=~/.config/devopness/supervisor/supervisord.conf; [ -f $c ] && "
              "supervisorctl -c $c shutdown; for i in $(seq 50); do "
              "pgrep -u \"$(id -u)\" supervisord || break; sleep 0.1; done", check=False)


def runtime_bin(remote: Remote, language: str, version: str) -> Path:
    """The runtime's bin directory with a `node` of the test's own that says it was used
    (the runtimes family installs the real one there)."""
    relative = bin_directory(language, version)
    assert relative is not None
    path = remote.home / relative
    remote.sh(f"mkdir -p {shlex.quote(str(path))}")
    node = path / "node"
    node.write_text(f'#!/bin/sh\nexport VIA_RUNTIME_BIN=1\nexec {NODE} "$@"\n')
    node.chmod(0o755)
    entry = pwd.getpwnam(remote.user)
    os.chown(node, entry.pw_uid, entry.pw_gid)
    return path


def fetch(port: int, host: str | None = None) -> dict[str, Any]:
    headers = {"Host": host} if host else {}
    r = httpx.get(f"http://127.0.0.1:{port}/", headers=headers, timeout=5)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


async def eventually(port: int, check: Any, host: str | None = None) -> dict[str, Any]:
    """The daemon's answer once `check(answer)` holds (a restarted process takes a moment
    to listen)."""
    import asyncio

    last: Any = None
    for _ in range(100):
        try:
            last = fetch(port, host)
            if check(last):
                return last  # type: ignore[no-any-return]
        except (httpx.HTTPError, AssertionError, ValueError) as exc:
            last = exc
        await asyncio.sleep(0.1)
    raise AssertionError(f"the daemon never answered as expected: {last!r}")


async def api(client: httpx.AsyncClient, remote: Remote, method: str, path: str,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = await client.request(method, path, json=body, headers=remote.tenant.headers)
    assert r.status_code in (200, 201, 204), r.text
    return r.json() if r.content else {}


async def create_node_app(
    client: httpx.AsyncClient, remote: Remote, repo: GitRepo, port: int, **fields: Any
) -> int:
    env = remote.tenant.environment.id
    app = await api(client, remote, "POST", f"/environments/{env}/applications", {
        "name": "express-guide", "repository": str(repo.bare), "credential_id": 1,
        "programming_language": "nodejs", "framework": "express", "engine_version": "22",
        "default_branch": "main",
        "linked_resources": [{"resource_type": "server", "resource_id": remote.server.id}],
        **fields,
    })
    for key, value in (("PORT", str(port)), ("NODE_ENV", "production")):
        await api(client, remote, "POST", f"/variables/application/{app['id']}", {
            "key": key, "value": value, "target": "os-env-var", "type": "variable",
            "hidden": False,
        })
    return int(app["id"])


async def create_daemon(client: httpx.AsyncClient, remote: Remote, application_id: int,
                        command: str = "npm start") -> dict[str, Any]:
    env = remote.tenant.environment.id
    return await api(client, remote, "POST", f"/environments/{env}/daemons", {
        "name": "web", "command": command, "process_count": 1, "run_as_user": remote.user,
        "application_id": application_id, "working_directory": None,
    })


def node_repo(remote: Remote) -> GitRepo:
    repo = make_repo(remote)
    repo.commit({"server.js": SERVER_JS, "crash.js": CRASH_JS, "package.json": PACKAGE_JSON,
                 "package-lock.json": PACKAGE_LOCK, "version.txt": "v1\n"}, "first")
    return repo


async def test_express_guide_daemon_follows_its_application(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    nginx: NginxLayout = await make_layout(db, remote)
    repo = node_repo(remote)
    port = free_port()
    bin_dir = runtime_bin(remote, "nodejs", "22")
    app_id = await create_node_app(client, remote, repo, port)
    daemon = await create_daemon(client, remote, app_id)
    # The daemon is linked to the application only: it runs where the application runs.
    assert daemon["servers"] == []
    env = remote.tenant.environment.id
    host = await api(client, remote, "POST", f"/environments/{env}/virtual-hosts", {
        "type": "name-based", "name": "guide.example.test", "application_id": app_id,
        "application_listen_address": f"http://127.0.0.1:{port}",
        "linked_resources": [{"resource_type": "server", "resource_id": remote.server.id}],
    })
    nginx.start()
    await remote.operate(client, f"/virtual-hosts/{host['id']}/deploy")

    # Deploy: dependencies from the lockfile, the build script, the daemon started.
    first = await remote.operate(client, f"/applications/{app_id}/deployments",
                                 {"type": "deploy", "source_type": "branch",
                                  "source_ref": "main"})
    logs = await remote.logs(client, first)
    assert "==> install dependencies (Express default): " in logs
    assert "==> build (Express default): " in logs
    assert f"deploying daemon web: 1 x 'npm start' as {remote.user}" in logs
    app_dir = nginx.applications_dir / "express-guide"
    answer = await eventually(port, lambda a: a["version"] == "v1")
    assert answer["cwd"] == release_path(app_dir, first)
    assert (answer["port"], answer["node_env"]) == (str(port), "production")
    # npm puts its own directories (node_modules/.bin, node-gyp-bin) first; then ours.
    path = [p for p in answer["path"].split(":") if "node_modules" not in p]
    assert path[0] == str(bin_dir)
    assert answer["via_runtime_bin"] == "1"
    assert answer["built"] is True
    # The virtual host reaches the daemon.
    body = nginx.curl(f"-H 'Host: guide.example.test' http://127.0.0.1:{nginx.http_port}/")
    assert json.loads(body)["pid"] == answer["pid"]
    # Operations on the daemon reach the application's server.
    status = await remote.operate(client, f"/daemons/{daemon['id']}/get-status")
    assert "all 1 processes running (supervisor)" in await remote.logs(client, status)

    # Deploy again: the daemon restarts in the new release.
    repo.commit({"version.txt": "v2\n"}, "second")
    second = await remote.operate(client, f"/applications/{app_id}/deployments",
                                  {"type": "deploy"})
    answer2 = await eventually(port, lambda a: a["version"] == "v2")
    assert answer2["cwd"] == release_path(app_dir, second)
    assert answer2["pid"] != answer["pid"]

    # Rollback: back in the first release.
    await remote.operate(client, f"/applications/{app_id}/deployments", {"type": "rollback"})
    back = await eventually(port, lambda a: a["version"] == "v1")
    assert back["cwd"] == release_path(app_dir, first)

    # Redeploy: the live commit again, in a new release.
    redeploy = await remote.operate(client, f"/applications/{app_id}/deployments",
                                    {"type": "redeploy"})
    again = await eventually(port, lambda a: a["cwd"] == release_path(app_dir, redeploy))
    assert again["version"] == "v1"

    # A commit whose server crashes at start: the step fails with the daemon's output,
    # `current` goes back and the daemon runs the previous release again.
    repo.commit({"server.js": CRASH_JS, "version.txt": "v3\n"}, "broken")
    failed = await remote.operate(client, f"/applications/{app_id}/deployments",
                                  {"type": "deploy"}, expect="failed")
    logs = await remote.logs(client, failed)
    assert "--- Activate release (failed)" in logs
    assert "the daemon did not start" in logs
    assert "boom: DATABASE_URL is not set" in logs
    assert "current switched back to " + release_of(redeploy) in logs
    assert os.readlink(nginx.applications_dir / "express-guide/current") == (
        f"releases/{release_of(redeploy)}")
    restored = await eventually(port, lambda a: a["cwd"] == release_path(app_dir, redeploy))
    assert restored["version"] == "v1"


async def test_failing_health_check_puts_the_daemon_back_on_the_previous_release(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    repo = node_repo(remote)
    port = free_port()
    runtime_bin(remote, "nodejs", "22")
    app_id = await create_node_app(client, remote, repo, port)
    for key, value in (("DEVOPNESS_HEALTH_CHECK_URL", f"http://127.0.0.1:{port}/"),
                       ("DEVOPNESS_HEALTH_CHECK_RETRIES", "3")):
        await api(client, remote, "POST", f"/variables/application/{app_id}", {
            "key": key, "value": value, "target": "os-env-var", "type": "variable",
            "hidden": False,
        })
    await create_daemon(client, remote, app_id)
    first = await remote.operate(client, f"/applications/{app_id}/deployments",
                                 {"type": "deploy"})
    await eventually(port, lambda a: a["version"] == "v1")
    # The new release's daemon starts but answers 500: the health check fails.
    repo.commit({"version.txt": "bad\n"}, "answers 500")
    failed = await remote.operate(client, f"/applications/{app_id}/deployments",
                                  {"type": "deploy"}, expect="failed")
    logs = await remote.logs(client, failed)
    assert "--- Activate release (completed)" in logs
    assert f"current switched back to release {release_of(first)}" in logs
    back = await eventually(port, lambda a: a["version"] == "v1")
    assert back["cwd"] == release_path(remote.home / "express-guide", first)


async def test_daemon_deploy_before_the_first_release_says_deploy_the_application(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    repo = node_repo(remote)
    port = free_port()
    runtime_bin(remote, "nodejs", "22")
    app_id = await create_node_app(client, remote, repo, port)
    daemon = await create_daemon(client, remote, app_id)
    action = await remote.operate(client, f"/daemons/{daemon['id']}/deploy", expect="failed")
    logs = await remote.logs(client, action)
    assert "which has none on this server yet: deploy the application" in logs
    # The guide's order then works: the application's deploy installs and starts it.
    await remote.operate(client, f"/applications/{app_id}/deployments", {"type": "deploy"})
    await eventually(port, lambda a: a["port"] == str(port))
    # Deploying the daemon itself now keeps it as it is (nothing changed).
    pid = fetch(port)["pid"]
    await remote.operate(client, f"/daemons/{daemon['id']}/deploy")
    assert fetch(port)["pid"] == pid
    # A changed variable reaches the daemon on its next deploy (it restarts).
    r = await client.get(f"/variables/application/{app_id}", headers=remote.tenant.headers)
    node_env = next(v for v in r.json() if v["key"] == "NODE_ENV")
    await api(client, remote, "PUT", f"/variables/{node_env['id']}", {
        "id": node_env["id"], "key": "NODE_ENV", "value": "staging", "target": "os-env-var",
        "type": "variable", "hidden": False,
    })
    await remote.operate(client, f"/daemons/{daemon['id']}/deploy")
    await eventually(port, lambda a: a["node_env"] == "staging")


async def test_systemd_rendering_runs_in_the_release_with_the_environment(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, tmp_path: Path
) -> None:
    """No systemd here: the unit of an application's daemon is rendered (as root, into a
    directory of the test's) and its ExecStart run the way systemd reads it (quotes,
    `$$` and `%%`), as the daemon's user in its WorkingDirectory."""
    repo = node_repo(remote)
    port = free_port()
    bin_dir = runtime_bin(remote, "nodejs", "22")
    app_id = await create_node_app(client, remote, repo, port)
    action = await remote.operate(client, f"/applications/{app_id}/deployments",
                                  {"type": "deploy"})
    units = tmp_path / "systemd"
    units.mkdir()
    home = remote.home
    env = {
        "HOME": str(home), "DEVOPNESS_SYSTEMD_DIR": str(units), "DEVOPNESS_DAEMON_ID": "77",
        "DEVOPNESS_DAEMON_NAME": "web", "DEVOPNESS_DAEMON_USER": remote.user,
        "DEVOPNESS_DAEMON_COMMAND": "echo \"100% $NODE_ENV $PORT $(pwd -P) $PATH\"",
        "DEVOPNESS_DAEMON_PROCESS_COUNT": "1", "DEVOPNESS_DAEMON_APPLICATION": "1",
        "DEVOPNESS_APPLICATION_DIR_NAME": "express-guide", "DEVOPNESS_APP_ROOT_DIRECTORY": "",
        "DEVOPNESS_APP_LANGUAGE": "nodejs",
        "DEVOPNESS_APP_RUNTIME_BIN": bin_directory("nodejs", "22") or "",
        "DEVOPNESS_APP_ENV": "NODE_ENV cHJvZHVjdGlvbg==\nPORT " + _b64(str(port)) + "\n",
        "PATH": "/usr/bin:/bin",
    }
    script = helpers() + ("dv_daemon_params; dv_daemon_check; "
                          "dv_systemd_write_unit \"$(dv_systemd_unit_file 77)\"")
    # Rendered as the SSH user would through sudo: root here, HOME the SSH user's.
    out = run(["/bin/bash", "-c", script], env=env, cwd=home)
    assert out.returncode == 0, out.stdout + out.stderr
    unit = (units / "devopness-daemon-77@.service").read_text()
    release_root = str(home / "express-guide" / "current")
    assert f"WorkingDirectory={release_root}\n" in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = systemd_split(exec_start.removeprefix("ExecStart="))
    runuser = shutil.which("runuser")
    assert runuser is not None
    ran = run([runuser, "-u", remote.user, "--", *argv], cwd=Path(release_root),
              env={"PATH": "/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    words = ran.stdout.split()
    assert words[:4] == ["100%", "production", str(port),
                         release_path(home / "express-guide", action)]
    assert words[4].split(":")[0] == str(bin_dir)


def run(argv: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def systemd_split(line: str) -> list[str]:
    """ExecStart= words as systemd reads them: single or double quotes, C-style backslash
    escapes inside them, `$$` for `$` and `%%` for `%` (specifiers)."""
    words: list[str] = []
    word: str | None = None
    quote = ""
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\":
                i += 1
                word = (word or "") + line[i]
            elif c == quote:
                quote = ""
            else:
                word = (word or "") + c
        elif c in "'\"":
            quote, word = c, word or ""
        elif c.isspace():
            if word is not None:
                words.append(word)
            word = None
        else:
            word = (word or "") + c
        i += 1
    assert not quote, f"unterminated quote in {line!r}"
    if word is not None:
        words.append(word)
    return [w.replace("$$", "$").replace("%%", "%") for w in words]


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()

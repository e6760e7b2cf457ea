"""Application deployments for real: a local bare git repository as the source, the
loopback SSH server as the target, releases, `current`, variables and builds checked on
disk afterwards."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.server
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins, dispatch
from app.actions.models import Action
from app.applications.models import Application
from app.core.security import SecretBox
from app.core.settings import Settings
from app.credentials.models import Credential, CredentialEnvironment
from app.credentials.secrets import seal
from app.servers.models import Server
from tests import resource_factories as rf
from tests.actions.test_faults_remote import _alive
from tests.actions.test_workers import sigkill_once_started
from tests.remote.conftest import Remote, authorize, create_os_user, delete_os_user, run_as
from tests.remote.git_repos import GitRepo, make_repo
from workers.engine import scripts
from workers.engine.reaper import reap

MAIN = {"type": "deploy", "source_type": "branch", "source_ref": "main"}


@pytest.fixture
def repo(remote: Remote) -> GitRepo:
    repo = make_repo(remote)
    first = repo.commit({"app.txt": "v1\n", "README": "hello\n"}, "first")
    repo.tag("v1.0", first)
    repo.commit({"app.txt": "v2\n"}, "second")
    return repo


async def new_application(
    db: AsyncSession, remote: Remote, repo: GitRepo | str, **overrides: Any
) -> Application:
    """An application of `repo` (or of that repository URL) linked to the server."""
    # The language needs no runtime of its own (tests/remote/test_runtimes.py installs
    # them from stand-in mirrors).
    overrides = {"programming_language": "html", "framework": "none",
                 "engine_version": "none"} | overrides
    repository = repo if isinstance(repo, str) else str(repo.bare)
    application = await rf.create_application(
        db, remote.tenant, repository=repository, **overrides
    )
    await rf.link(db, "application", application.id, remote.server)
    return application


async def add_variable(
    client: httpx.AsyncClient, remote: Remote, application_id: int, key: str, value: str,
    *, target: str = "os-env-var", hidden: bool = False,
) -> None:
    kind = {"resource-config-file": "file", "resource-symlink": "symlink"}.get(target,
                                                                              "variable")
    r = await client.post(
        f"/variables/application/{application_id}",
        json={"key": key, "value": value, "target": target, "type": kind, "hidden": hidden},
        headers=remote.tenant.headers,
    )
    assert r.status_code == 201, r.text


async def deploy(
    client: httpx.AsyncClient, remote: Remote, application_id: int,
    body: dict[str, Any] | None = None, *, expect: str = "completed",
) -> dict[str, Any]:
    return await remote.operate(client, f"/applications/{application_id}/deployments",
                                body or MAIN, expect=expect)


# A release folder's name: the deploy's UTC time (servers deployed before hold releases
# named by their action's id, older than any timestamped one).
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def release_order(name: str) -> tuple[int, int, str]:
    return (1, 0, name) if STAMP.fullmatch(name) else (0, int(name), "")


def releases(remote: Remote, name: str) -> list[str]:
    """The application's release folders, oldest first."""
    path = remote.home / name / "releases"
    return sorted((p.name for p in path.iterdir()), key=release_order) if path.exists() else []


def current(remote: Remote, name: str) -> str:
    return os.readlink(remote.home / name / "current")


async def action_data(db: AsyncSession, action_id: int) -> dict[str, Any]:
    data = await db.scalar(select(Action.action_data).where(Action.id == action_id))
    assert isinstance(data, dict)
    return data


def release_of(action: dict[str, Any]) -> str:
    """The release a deploy made, as the API's `action_data` names it: a timestamp."""
    name = (action.get("action_data") or {}).get("release_name", "")
    assert STAMP.fullmatch(name), action
    return str(name)


def release_path(app_dir: Path, action: dict[str, Any]) -> str:
    """Where the files of the release a deploy made are (`pwd -P` in it): releases/<name>
    links to a folder whose path toolchains accept (no `:` nor space)."""
    real = (app_dir / "releases" / release_of(action)).resolve()
    assert real.parent == app_dir / ".releases", real
    assert real.name.endswith(f"Z-{action['id']}") and ":" not in real.name, real
    return str(real)


async def test_deploy_writes_release_variables_build_and_commit(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    # Created through the API as the reference allows (`owner/name`), pointed at the
    # self-hosted repository with DEVOPNESS_GIT_URL.
    r = await client.post(
        f"/environments/{remote.tenant.environment.id}/applications",
        json={"name": "shop", "repository": "acme/shop", "credential_id": 1,
              "programming_language": "html", "framework": "none",
              "engine_version": "none", "default_branch": "main",
              "install_dependencies_command": "touch deps-installed",
              "build_command": 'echo "built $GREETING" > build.txt; echo "token=$API_TOKEN"; '
                               'env | grep -c "^DEVOPNESS_" || true',
              "linked_resources": [{"resource_type": "server",
                                    "resource_id": remote.server.id}]},
        headers=remote.tenant.headers,
    )
    assert r.status_code == 201, r.text
    app_id = r.json()["id"]
    secret = "s3cr3t-'value\"-$HOME-xyz"
    await add_variable(client, remote, app_id, "DEVOPNESS_GIT_URL", repo.url)
    await add_variable(client, remote, app_id, "GREETING", "hello world")
    await add_variable(client, remote, app_id, "API_TOKEN", secret, hidden=True)
    await add_variable(client, remote, app_id, "config/settings.json", '{"debug": false}\n',
                       target="resource-config-file")
    await add_variable(client, remote, app_id, "storage", "${APP_SHARED_DIR}/storage",
                       target="resource-symlink")

    action = await deploy(client, remote, app_id)
    release = release_of(action)
    assert releases(remote, "shop") == [release]
    assert current(remote, "shop") == f"releases/{release}"
    live = remote.home / "shop" / "current"
    assert (live / "app.txt").read_text() == "v2\n"
    assert (live / "deps-installed").exists()
    assert (live / "build.txt").read_text() == "built hello world\n"
    assert (live / "config/settings.json").read_text() == '{"debug": false}\n'
    assert os.readlink(live / "storage") == str(remote.home / "shop/shared/storage")
    assert (remote.home / "shop/shared/storage").is_dir()
    env = (live / ".env").read_text()
    assert "GREETING='hello world'\n" in env
    assert "DEVOPNESS_GIT_URL" not in env
    # The shell reads the file back to the exact values.
    out = remote.sh(f"cd {live} && set -a && . ./.env && printf '%s' \"$API_TOKEN\"").stdout
    assert out == secret
    assert oct((live / ".env").stat().st_mode & 0o777) == "0o640"

    logs = await remote.logs(client, action)
    for name in ("Fetch source", "Install runtime", "Install dependencies and build",
                 "Activate release", "Health check"):
        assert f"--- {name} (completed)" in logs
    assert secret not in logs
    assert "token=" in logs
    # The deploy's own parameters do not reach the build commands.
    assert "\n0\n" in logs

    data = await action_data(db, action["id"])
    assert data["commit"]["hash"] == repo.commits[1]
    assert data["commit"]["message"] == "second"
    assert data["commit"]["author_email"] == "dev@example.test"
    assert data["commit"]["clone_url"] == repo.url
    assert data["release_name"] == release
    assert data["deployment"]["source_ref"] == "main"
    pipeline_id = await db.scalar(select(Action.pipeline_id).where(Action.id == action["id"]))
    assert data["deployment"]["pipeline_id"] == pipeline_id
    assert data["deployment"]["provider_name"] == "git"
    # And the API shows it (the response is checked against the reference's ActionData).
    r = await client.get(f"/actions/{action['id']}", headers=remote.tenant.headers)
    assert r.json()["action_data"]["commit"]["hash"] == repo.commits[1]
    assert r.json()["action_data"]["release_name"] == release

    # Deploying the same ref again: a second release, `current` on it.
    again = await deploy(client, remote, app_id)
    second = release_of(again)
    assert releases(remote, "shop") == [release, second]
    assert current(remote, "shop") == f"releases/{second}"
    assert (remote.home / "shop/current/.env").read_text() == env


async def test_tag_commit_rollback_and_redeploy(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    application = await new_application(db, remote, repo)
    name = application.name
    live = remote.home / name / "current"

    tagged = await deploy(client, remote, application.id,
                          {"type": "deploy", "source_type": "tag", "source_ref": "v1.0"})
    assert (live / "app.txt").read_text() == "v1\n"
    assert (await action_data(db, tagged["id"]))["commit"]["hash"] == repo.commits[0]

    by_commit = await deploy(client, remote, application.id,
                             {"type": "deploy", "source_type": "commit",
                              "source_ref": repo.commits[1][:12]})
    assert (live / "app.txt").read_text() == "v2\n"
    assert current(remote, name) == f"releases/{release_of(by_commit)}"

    rollback = await deploy(client, remote, application.id, {"type": "rollback"})
    tagged_release = release_of(tagged)
    assert current(remote, name) == f"releases/{tagged_release}"
    assert (live / "app.txt").read_text() == "v1\n"
    data = await action_data(db, rollback["id"])
    assert data["release_name"] == tagged_release
    assert data["commit"]["hash"] == repo.commits[0]
    # The commit's details come from the deploy that made the release.
    assert data["commit"]["message"] == "first"
    # Nothing older to go back to.
    failed = await deploy(client, remote, application.id, {"type": "rollback"},
                          expect="failed")
    assert "no release older than the live release" in await remote.logs(client, failed)
    assert current(remote, name) == f"releases/{tagged_release}"

    # A redeploy builds the live release's commit again, even though main moved on.
    redeploy = await deploy(client, remote, application.id, {"type": "redeploy"})
    redeployed = release_of(redeploy)
    assert redeployed not in (tagged_release, release_of(by_commit))
    assert current(remote, name) == f"releases/{redeployed}"
    assert (live / "app.txt").read_text() == "v1\n"
    assert (await action_data(db, redeploy["id"]))["deployment"]["source_ref"] \
        == repo.commits[0]

    # Unknown refs fail clearly and leave nothing behind.
    before = releases(remote, name)
    missing = await deploy(client, remote, application.id,
                           {"type": "deploy", "source_type": "branch", "source_ref": "nope"},
                           expect="failed")
    assert "branch 'nope' does not exist" in await remote.logs(client, missing)
    # A branch or tag name is not a revision: `main^` would otherwise build main's parent,
    # and `main@{1}` whatever the mirror's reflog held.
    for source_type, ref in (("branch", "main^"), ("branch", "main@{1}"),
                             ("branch", "main..main"), ("tag", "v1.0~1")):
        refused = await deploy(client, remote, application.id,
                               {"type": "deploy", "source_type": source_type,
                                "source_ref": ref}, expect="failed")
        assert f"{source_type} '{ref}' does not exist" in await remote.logs(client, refused)
    assert releases(remote, name) == before
    assert current(remote, name) == f"releases/{redeployed}"


async def test_failed_build_leaves_current_untouched(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    application = await new_application(db, remote, repo, build_command="echo ok > out.txt")
    good = await deploy(client, remote, application.id)

    application.build_command = "echo building; exit 3"
    await db.commit()
    failed = await deploy(client, remote, application.id, expect="failed")
    logs = await remote.logs(client, failed)
    assert "build failed (exit code 3); the live release is unchanged" in logs
    assert "--- Activate release" not in logs or "Activate release (completed)" not in logs
    good_release = release_of(good)
    assert current(remote, application.name) == f"releases/{good_release}"
    assert releases(remote, application.name) == [good_release]

    # Fixed: the next deploy leaves no leftovers of the failed one.
    application.build_command = "echo ok > out.txt"
    await db.commit()
    fixed = await deploy(client, remote, application.id)
    assert releases(remote, application.name) == [good_release, release_of(fixed)]


async def test_a_deploy_cancelled_during_its_build_leaves_nothing_running(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    """Cancelled while its build runs: the build's session (the built-in script's bash)
    and everything the build command started are stopped on the server, the later steps
    are skipped and the live release stays live."""
    application = await new_application(db, remote, repo)
    await deploy(client, remote, application.id)
    live = current(remote, application.name)
    went_on = remote.home / "build-went-on"
    application.build_command = f"echo building; (sleep 2; touch {went_on}) & sleep 60"
    await db.commit()
    response = await client.post(f"/applications/{application.id}/deployments", json=MAIN,
                                 headers=remote.tenant.headers)
    assert response.status_code in (200, 201, 204), response.text
    action_id = int(response.headers["X-Devopness-Action-Id"])
    deadline = time.monotonic() + 30
    while True:
        action = (await client.get(f"/actions/{action_id}",
                                   headers=remote.tenant.headers)).json()
        if "building" in (await step_outputs(client, remote, action))[
                "Install dependencies and build"][1]:
            break
        assert time.monotonic() < deadline, action
        await asyncio.sleep(0.1)

    cancelled = await client.post(f"/actions/{action_id}/cancel", headers=remote.tenant.headers)
    assert cancelled.status_code == 200, cancelled.text
    action = await remote.wait(client, action_id, expect="failed")
    assert action["status_reason_human_readable"] == "Cancelled by user."
    assert {s["name"]: s["status"] for s in action["targets"][0]["steps"]} == {
        "Fetch source": "completed", "Install runtime": "completed",
        "Install dependencies and build": "failed", "Activate release": "skipped",
        "Health check": "skipped"}
    await asyncio.sleep(2.5)
    assert not went_on.exists()
    pgrep = await asyncio.create_subprocess_exec(
        "pgrep", "-u", remote.user, "-a", stdout=subprocess.PIPE)
    left, _ = await pgrep.communicate()
    assert left == b"", left.decode()
    assert current(remote, application.name) == live


async def test_a_builds_live_log_shows_each_line_as_printed_while_it_runs(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a build prints is in its step's log, read over HTTP, while the build goes on:
    a line ending in `d` too. A step's result token (random hex) is taken out of its log;
    when the token began with `d` (one run in 16, here every run), output ending in `d`
    waited for the build's next output, and the log showed `build starte`."""
    monkeypatch.setattr(builtins, "secrets", type("Hex", (), {
        "token_hex": staticmethod(lambda n=16: "d" + os.urandom(n).hex()[1:])}))
    application = await new_application(db, remote, repo,
                                        build_command="echo build started; sleep 60")
    response = await client.post(f"/applications/{application.id}/deployments", json=MAIN,
                                 headers=remote.tenant.headers)
    assert response.status_code in (200, 201, 204), response.text
    action_id = int(response.headers["X-Devopness-Action-Id"])
    deadline = time.monotonic() + 20
    log = ""
    try:
        while "build started" not in log.splitlines():
            action = (await client.get(f"/actions/{action_id}",
                                       headers=remote.tenant.headers)).json()
            log = (await step_outputs(client, remote, action))[
                "Install dependencies and build"][1]
            assert time.monotonic() < deadline, f"the build's log so far: {log!r}"
            await asyncio.sleep(0.1)
    finally:
        cancelled = await client.post(f"/actions/{action_id}/cancel",
                                      headers=remote.tenant.headers)
        assert cancelled.status_code == 200, cancelled.text
        await remote.wait(client, action_id, expect="failed")
    # The fetch step's result lines still lose the token and keep their marker.
    fetch = (await step_outputs(client, remote, action))["Fetch source"][1]
    assert "##devopness-result release=" in fetch and "##devopness-result d" not in fetch


@pytest.fixture
def activate_calling_a_packed_helper(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The activate script, with a last line that calls a helper of a family it sends packed
    (no daemons here, so the daemon family is not parsed at once): as it would run were
    its directive wrong. What the renderer caches per script is cleared before and after."""
    cached = [scripts._read, scripts._conditions, scripts._needed, scripts._parsed,
              scripts._layout, scripts.result_keys]
    read = scripts._read
    text = read("application/activate") + (
        'printf "packed helper: %s\\n" "$(dv_daemon_unit_name 7)"\n'
        'printf "packed helper in the shell: "; dv_daemon_unit_name 9; echo\n'
        'printf "packed helper again: %s\\n" "$(dv_daemon_unit_name 8)"\n')
    for function in cached:
        function.cache_clear()
    monkeypatch.setattr(scripts, "_read",
                        lambda name: text if name == "application/activate" else read(name))
    yield
    for function in cached:
        function.cache_clear()


async def test_a_deploy_calling_a_helper_it_sends_packed_unpacks_it_on_the_server(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo,
    activate_calling_a_packed_helper: None,
) -> None:
    """The helper families a step does not expect to call travel packed (gzip and base64)
    and are unpacked on the server on their first call: a deploy whose activation calls one
    (in the session that also fetched, so from the middle of the program) completes, and
    its log, read over HTTP, shows what the helper returned."""
    application = await new_application(db, remote, repo)
    action = await deploy(client, remote, application.id)
    activate = (await step_outputs(client, remote, action))["Activate release"][1]
    assert "packed helper: devopness-daemon-7" in activate, activate
    assert "packed helper in the shell: devopness-daemon-9" in activate, activate
    assert "packed helper again: devopness-daemon-8" in activate, activate
    assert current(remote, application.name).startswith("releases/")


@pytest.fixture
def http_health() -> Iterator[int]:
    """A loopback HTTP server answering 200 on /health and 503 elsewhere."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


async def test_failing_health_check_switches_back(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo,
    http_health: int,
) -> None:
    application = await new_application(db, remote, repo)
    await add_variable(client, remote, application.id, "DEVOPNESS_HEALTH_CHECK_URL",
                       f"http://127.0.0.1:{http_health}/health")
    await add_variable(client, remote, application.id, "DEVOPNESS_HEALTH_CHECK_COMMAND",
                       'grep -q v2 app.txt && test "$MODE" = live')
    await add_variable(client, remote, application.id, "DEVOPNESS_HEALTH_CHECK_RETRIES", "2")
    await add_variable(client, remote, application.id, "MODE", "live")
    good = await deploy(client, remote, application.id)
    assert "health check passed" in await remote.logs(client, good)

    repo.commit({"app.txt": "broken\n"}, "third")
    bad = await deploy(client, remote, application.id, expect="failed")
    logs = await remote.logs(client, bad)
    assert "health check attempt 1 of 2 failed" in logs
    good_release = release_of(good)
    assert f"current switched back to release {good_release}" in logs
    assert current(remote, application.name) == f"releases/{good_release}"
    assert releases(remote, application.name) == [good_release]

    # An unreachable URL fails the same way.
    r = await client.get(f"/variables/application/{application.id}",
                         headers=remote.tenant.headers)
    url_var = next(v for v in r.json() if v["key"] == "DEVOPNESS_HEALTH_CHECK_URL")
    r = await client.put(f"/variables/{url_var['id']}", headers=remote.tenant.headers,
                         json={"id": url_var["id"], "key": url_var["key"],
                               "value": f"http://127.0.0.1:{http_health}/down",
                               "target": "os-env-var", "type": "variable", "hidden": False})
    assert r.status_code in (200, 204), r.text
    repo.commit({"app.txt": "v2 again\n"}, "fourth")
    down = await deploy(client, remote, application.id, expect="failed")
    assert "503" in await remote.logs(client, down)
    assert current(remote, application.name) == f"releases/{good_release}"
    assert releases(remote, application.name) == [good_release]


async def test_first_deploy_failing_health_check_leaves_no_current(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    application = await new_application(db, remote, repo)
    await add_variable(client, remote, application.id, "DEVOPNESS_HEALTH_CHECK_COMMAND",
                       "false")
    await add_variable(client, remote, application.id, "DEVOPNESS_HEALTH_CHECK_RETRIES", "1")
    failed = await deploy(client, remote, application.id, expect="failed")
    assert "current switched back to no release" in await remote.logs(client, failed)
    assert not (remote.home / application.name / "current").exists()
    assert releases(remote, application.name) == []


async def test_deployments_keep_prunes_old_releases(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    application = await new_application(db, remote, repo, deployments_keep=2)
    # Left by a deploy that was interrupted before its release was built.
    remote.sh(f"mkdir -p {application.name}/releases/0/junk")
    actions = [await deploy(client, remote, application.id) for _ in range(4)]
    names = [release_of(a) for a in actions]
    assert releases(remote, application.name) == names[-2:]
    if os.environ.get("SHOW_DEPLOY_LOGS"):
        print(await remote.logs(client, actions[-1]))
    assert current(remote, application.name) == f"releases/{names[-1]}"
    meta_dir = remote.home / application.name / ".devopness"
    meta = sorted(p.name for p in (meta_dir / "releases").iterdir())
    assert meta == sorted(f"{n}.{kind}" for n in names[-2:] for kind in ("commit", "ready"))
    # Which release each kept deploy claimed; the records of pruned ones go with them.
    assert sorted(p.name for p in (meta_dir / "actions").iterdir()) == sorted(
        str(a["id"]) for a in actions[-2:])
    assert (meta_dir / "actions" / str(actions[-1]["id"])).read_text() == f"{names[-1]}\n"
    # The kept releases' files, and nothing of the pruned ones.
    app_dir = remote.home / application.name
    assert sorted(str(p) for p in (app_dir / ".releases").iterdir()) == [
        release_path(app_dir, a) for a in actions[-2:]]
    # The cached mirror is reused.
    assert (remote.home / application.name / "repo.git/HEAD").exists()


async def test_ssh_deploy_key_and_daemon_restart(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    """git over SSH with a deploy key held in a hidden variable: the key only exists on
    the server while git runs, and never shows in the logs."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    private = key.export_private_key().decode()
    authorize(remote.home, remote.user, key.export_public_key().decode())
    url = f"ssh://{remote.user}@127.0.0.1:{remote.host.port}{repo.bare}"
    r = await client.post(
        f"/environments/{remote.tenant.environment.id}/applications",
        json={"name": "ssh-app", "repository": url, "credential_id": 1,
              "programming_language": "html", "framework": "none",
              "engine_version": "none", "default_branch": "main",
              "linked_resources": [{"resource_type": "server",
                                    "resource_id": remote.server.id}]},
        headers=remote.tenant.headers,
    )
    assert r.status_code == 201, r.text
    application = await db.get(Application, r.json()["id"])
    assert application is not None
    await add_variable(client, remote, application.id, "DEVOPNESS_GIT_SSH_KEY", private,
                       hidden=True)
    # Created, never deployed: the application's deploy installs it.
    daemon = await rf.create_daemon(db, remote.tenant, application_id=application.id,
                                    run_as_user=remote.user, working_directory=None,
                                    command="exec sleep 1000")

    action = await deploy(client, remote, application.id)
    assert (remote.home / application.name / "current/app.txt").read_text() == "v2\n"
    logs = await remote.logs(client, action)
    body = private.strip().splitlines()[1]
    assert body not in logs
    assert f"deploying daemon {daemon.name}" in logs
    leftovers = remote.sh("find /tmp -maxdepth 2 -user \"$(id -un)\" -name deploy_key",
                          check=False).stdout
    assert leftovers.strip() == ""

    # A wrong key fails the fetch with a clear message, nothing changed.
    other = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    r = await client.get(f"/variables/application/{application.id}",
                         headers=remote.tenant.headers)
    var = next(v for v in r.json() if v["key"] == "DEVOPNESS_GIT_SSH_KEY")
    r = await client.put(f"/variables/{var['id']}", headers=remote.tenant.headers,
                         json={"id": var["id"], "key": var["key"], "value": other,
                               "target": "os-env-var", "type": "variable", "hidden": True})
    assert r.status_code in (200, 204), r.text
    failed = await deploy(client, remote, application.id, expect="failed")
    logs = await remote.logs(client, failed)
    assert "could not fetch" in logs
    # git's own reason reaches the log too (its errors stream there; the fetch is quiet).
    assert "Permission denied (publickey)" in logs
    assert releases(remote, application.name) == [release_of(action)]


async def test_another_tenant_cannot_deploy(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    application = await new_application(db, remote, repo)
    stranger = await rf.create_tenant(db)
    r = await client.post(f"/applications/{application.id}/deployments", json=MAIN,
                          headers=stranger.headers)
    assert r.status_code == 404
    assert releases(remote, application.name) == []


@pytest.fixture
def git_http(tmp_path: Path) -> Iterator[tuple[int, Path, list[str]]]:
    """A loopback git host over (dumb) HTTP that wants Basic auth `oauth2:<token>` (the
    GitLab form): serves `<root>/<owner>/<name>.git`; records the Authorization headers."""
    root = tmp_path / "git-host"
    root.mkdir()
    seen: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            header = self.headers.get("Authorization", "")
            seen.append(f"{self.path} {header}")
            expected = "Basic " + base64.b64encode(f"oauth2:{HTTP_TOKEN}".encode()).decode()
            if header != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], root, seen
    server.shutdown()


HTTP_TOKEN = "glpat-loopback-token-123456"


async def test_https_token_from_the_linked_credential(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo,
    settings: Settings, git_http: tuple[int, Path, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`owner/name` on the credential's provider (GitLab here, at a loopback address): the
    token goes to git through GIT_ASKPASS, never into the URL, the mirror's config or the
    logs."""
    port, root, seen = git_http
    monkeypatch.setattr(settings, "gitlab_url", f"http://127.0.0.1:{port}")
    (root / "acme").mkdir()
    (root / "acme/shop.git").symlink_to(repo.bare)
    remote.sh(f"git --git-dir={repo.bare} update-server-info")
    credential = Credential(
        name="gitlab", provider_code="gitlab", provider_type="source_provider",
        auth_type="api_credentials", project_id=remote.tenant.project.id,
        created_by=remote.tenant.user.id,
        settings_encrypted=seal(SecretBox(settings), {"access_token": HTTP_TOKEN}),
    )
    db.add(credential)
    await db.flush()
    db.add(CredentialEnvironment(credential_id=credential.id,
                                 environment_id=remote.tenant.environment.id))
    await db.commit()
    application = await new_application(db, remote, repo)
    application.repository = "acme/shop"
    application.credential_id = credential.id
    await db.commit()

    action = await deploy(client, remote, application.id)
    assert (remote.home / application.name / "current/app.txt").read_text() == "v2\n"
    assert any(HTTP_TOKEN not in line and "Basic" in line for line in seen)
    assert all(HTTP_TOKEN not in line.split(" ")[0] for line in seen)
    logs = await remote.logs(client, action)
    assert HTTP_TOKEN not in logs
    config = (remote.home / application.name / "repo.git/config").read_text()
    assert f"url = http://127.0.0.1:{port}/acme/shop.git" in config
    assert HTTP_TOKEN not in config
    data = await action_data(db, action["id"])
    assert data["deployment"]["provider_name"] == "gitlab"
    assert data["commit"]["url"] == (
        f"http://127.0.0.1:{port}/acme/shop/-/commit/{repo.commits[1]}"
    )

    # A credential that is not linked to the application's environment is never used.
    await db.execute(delete(CredentialEnvironment)
                     .where(CredentialEnvironment.credential_id == credential.id))
    await db.commit()
    failed = await deploy(client, remote, application.id, expect="failed")
    logs = await remote.logs(client, failed)
    assert "Cannot tell where repository 'acme/shop' is hosted" in (
        logs + failed["status_reason_human_readable"]
    )
    assert current(remote, application.name) == f"releases/{release_of(action)}"


async def test_linked_daemon_restarts_on_the_new_release(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    application = await new_application(db, remote, repo)
    first = await deploy(client, remote, application.id)
    daemon = await rf.create_daemon(
        db, remote.tenant, application_id=application.id, run_as_user=remote.user,
        working_directory=".", command='pwd -P >> "$HOME/daemon-cwd.log"; exec sleep 1000',
    )
    await rf.link(db, "daemon", daemon.id, remote.server)
    await remote.operate(client, f"/daemons/{daemon.id}/deploy")
    app_dir = remote.home / application.name
    log = remote.home / "daemon-cwd.log"
    await wait_until(lambda: log.exists() and log.read_text().strip() != "")
    assert log.read_text().splitlines() == [release_path(app_dir, first)]

    second = await deploy(client, remote, application.id)
    assert f"restarting devopness-daemon-{daemon.id}" in await remote.logs(client, second)
    await wait_until(lambda: len(log.read_text().splitlines()) == 2)
    assert log.read_text().splitlines()[-1] == release_path(app_dir, second)
    await remote.operate(client, f"/daemons/{daemon.id}/stop")


async def wait_until(predicate: Any, seconds: float = 15) -> None:
    for _ in range(int(seconds / 0.1)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    assert predicate()


async def test_deploys_of_the_same_second_get_folders_of_their_own(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    """Two deploys asked for within one second, running side by side: the fetch step that
    comes second takes the next second's folder, and neither removes the other's release
    as a leftover while it is still being built."""
    application = await new_application(db, remote, repo)
    path = f"/applications/{application.id}/deployments"
    for _ in range(3):
        await asyncio.sleep(1 - time.time() % 1)  # just after a second begins
        started = [await client.post(path, json=MAIN, headers=remote.tenant.headers)
                   for _ in range(2)]
        ids = [int(r.headers["X-Devopness-Action-Id"]) for r in started]
        created: list[datetime] = []
        for action_id in ids:
            at = await db.scalar(select(Action.created_at).where(Action.id == action_id))
            assert at is not None
            created.append(at.astimezone(UTC).replace(microsecond=0))
        actions = [await remote.wait(client, action_id) for action_id in ids]
        if created[0] == created[1]:
            break
    else:
        pytest.fail("no two deploys were asked for within one second in three tries")
    names = sorted([release_of(a) for a in actions])
    assert names == [f"{created[0]:%Y-%m-%d %H:%M:%S}",
                     f"{created[0] + timedelta(seconds=1):%Y-%m-%d %H:%M:%S}"]
    assert set(names) <= set(releases(remote, application.name))
    meta = remote.home / application.name / ".devopness"
    for action, name in [(a, release_of(a)) for a in actions]:
        assert (meta / "releases" / f"{name}.ready").exists()
        assert (meta / "actions" / str(action["id"])).read_text() == f"{name}\n"
        assert (remote.home / application.name / "releases" / name / "app.txt").exists()
    assert current(remote, application.name) in {f"releases/{n}" for n in names}


async def test_a_repository_whose_url_git_must_quote_deploys_again_and_again(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    """A first deploy's clone names the mirror's origin as git quotes it, and a later deploy
    reads it back, leaving a URL it cannot match to `git config`: a path with `#` and `;`
    (a comment in git's config syntax) is fetched on the first deploy and on the next."""
    repo = make_repo(remote, "team #1; shop")
    repo.commit({"app.txt": "v1\n"}, "first")
    application = await new_application(db, remote, repo)
    await deploy(client, remote, application.id)
    mirror = remote.home / application.name / "repo.git"
    origin = remote.sh(f"git --git-dir={shlex.quote(str(mirror))} config remote.origin.url")
    assert origin.stdout.strip() == str(repo.bare)
    repo.commit({"app.txt": "v2\n"}, "second")
    await deploy(client, remote, application.id)
    assert (remote.home / application.name / "current/app.txt").read_text() == "v2\n"
    assert "origin" in remote.sh(f"git --git-dir={shlex.quote(str(mirror))} remote").stdout



async def test_a_first_deploy_of_a_repository_not_there_yet_fails_clearly_then_deploys(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    """An application created before its repository was pushed: the first deploy fails at
    its fetch with git's reason and leaves nothing behind (no mirror, half-made or not, no
    release, no `current`); once the repository is there, the next deploy makes them."""
    bare = remote.home / "later.git"
    application = await new_application(db, remote, str(bare))
    failed = await deploy(client, remote, application.id, expect="failed")
    logs = await remote.logs(client, failed)
    assert "--- Fetch source (failed)" in logs, logs
    assert "could not fetch" in logs
    assert f"fatal: repository '{bare}' does not exist" in logs
    app_dir = remote.home / application.name
    assert sorted(p.name for p in app_dir.iterdir() if p.name.startswith("repo.git")) == []
    assert releases(remote, application.name) == []
    assert not (app_dir / "current").is_symlink()

    repo = make_repo(remote, "later")
    repo.commit({"app.txt": "v1\n"}, "first")
    await deploy(client, remote, application.id)
    assert (app_dir / "current/app.txt").read_text() == "v1\n"
    assert sorted(p.name for p in app_dir.iterdir() if p.name.startswith("repo.git")) == [
        "repo.git"]


async def test_a_first_deploy_cancelled_while_it_clones_leaves_no_half_made_mirror(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    """Cancelled while its first fetch waits on a git host that never answers: git and the
    step's shell are stopped, no mirror is left half-made (git removes the folder it was
    cloning into), and once the repository is one that answers, the next deploy makes the
    mirror and completes."""
    connected = asyncio.Event()

    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                            ) -> None:
        connected.set()
        await reader.read()  # until git goes away
        writer.close()

    host = await asyncio.start_server(never_answers, "127.0.0.1", 0)
    port = host.sockets[0].getsockname()[1]
    try:
        application = await new_application(db, remote, f"git://127.0.0.1:{port}/shop.git")
        response = await client.post(f"/applications/{application.id}/deployments",
                                     json=MAIN, headers=remote.tenant.headers)
        assert response.status_code in (200, 201, 204), response.text
        action_id = int(response.headers["X-Devopness-Action-Id"])
        await asyncio.wait_for(connected.wait(), 30)
        app_dir = remote.home / application.name
        cloning = [p.name for p in app_dir.iterdir() if p.name.startswith("repo.git")]
        assert len(cloning) == 1 and cloning[0].startswith("repo.git.new."), cloning
        cancelled = await client.post(f"/actions/{action_id}/cancel",
                                      headers=remote.tenant.headers)
        assert cancelled.status_code == 200, cancelled.text
        action = await remote.wait(client, action_id, expect="failed")
    finally:
        host.close()
        await host.wait_closed()
    assert action["status_reason_human_readable"] == "Cancelled by user."
    assert action["targets"][0]["steps"][0]["status"] == "failed"
    # Stopped: nothing of the user's runs on (exited processes not yet reaped aside).
    deadline = time.monotonic() + 10
    while True:
        running = [line for line in _alive(".", user=remote.user) if "<defunct>" not in line]
        if not running:
            break
        assert time.monotonic() < deadline, running
        await asyncio.sleep(0.2)
    assert [p.name for p in app_dir.iterdir() if p.name.startswith("repo.git")] == []
    assert not (app_dir / "current").is_symlink()

    application.repository = str(repo.bare)
    await db.commit()
    await deploy(client, remote, application.id)
    assert (app_dir / "current/app.txt").read_text() == "v2\n"
    assert [p.name for p in app_dir.iterdir() if p.name.startswith("repo.git")] == [
        "repo.git"]


async def test_a_server_whose_git_renames_cloned_remotes_still_deploys_from_origin(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    """The server's user has git name a clone's remote otherwise (clone.defaultRemoteName
    in ~/.gitconfig): the mirror a first deploy clones still has one remote, origin, which
    later deploys fetch from."""
    remote.sh("git config --global clone.defaultRemoteName upstream")
    application = await new_application(db, remote, repo)
    await deploy(client, remote, application.id)
    mirror = remote.home / application.name / "repo.git"
    names = remote.sh(f"git --git-dir={shlex.quote(str(mirror))} remote").stdout.split()
    assert names == ["origin"]
    repo.commit({"app.txt": "v3\n"}, "third")
    await deploy(client, remote, application.id)
    assert (remote.home / application.name / "current/app.txt").read_text() == "v3\n"


async def test_a_new_release_sorts_after_every_release_there_is(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    """Release names order rollbacks and pruning. On a server whose live release is named
    ahead of the deploy's time (its clock went back; or, within one second, the name of a
    release the deploy before pruned is free again), a new release still sorts after it."""
    application = await new_application(db, remote, repo)
    first = await deploy(client, remote, application.id)
    old = release_of(first)
    stamp = "%Y-%m-%d %H:%M:%S"
    ahead = (datetime.strptime(old, stamp) + timedelta(hours=1)).strftime(stamp)
    # The first release as it would be named had the server's clock been an hour ahead.
    remote.sh(
        f"cd {shlex.quote(application.name)} && "
        f"mv -T {shlex.quote('releases/' + old)} {shlex.quote('releases/' + ahead)} && "
        f"for k in commit ready; do mv {shlex.quote('.devopness/releases/' + old)}.$k "
        f"{shlex.quote('.devopness/releases/' + ahead)}.$k; done && "
        f"ln -sfn {shlex.quote('releases/' + ahead)} current && "
        f"printf '%s\\n' {shlex.quote(ahead)} >.devopness/actions/{first['id']}"
    )
    second = await deploy(client, remote, application.id)
    newer = release_of(second)
    one_later = datetime.strptime(ahead, stamp) + timedelta(seconds=1)
    assert newer == one_later.strftime(stamp)
    assert releases(remote, application.name) == [ahead, newer]
    assert current(remote, application.name) == f"releases/{newer}"
    await deploy(client, remote, application.id, {"type": "rollback"})
    assert current(remote, application.name) == f"releases/{ahead}"


async def test_rollback_across_releases_named_by_action_id(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    """A server deployed before releases were named by time holds releases named by their
    deploy action's id: those are older than any timestamped release, a rollback reaches
    them (with the commit that deploy recorded) and `deployments_keep` prunes them."""
    application = await new_application(db, remote, repo, deployments_keep=3)
    name = application.name
    live = remote.home / name / "current"
    old = await deploy(client, remote, application.id,
                       {"type": "deploy", "source_type": "tag", "source_ref": "v1.0"})
    # Made into what such a deploy left: the folder releases/<action id>, `current` on it.
    stamp, legacy = shlex.quote(release_of(old)), str(old["id"])
    remote.sh(f"cd {name} && mv \"$(readlink -f releases/{stamp})\" releases/{legacy}"
              f" && rm releases/{stamp}"
              f" && for kind in commit ready; do"
              f" mv .devopness/releases/{stamp}.$kind .devopness/releases/{legacy}.$kind; done"
              f" && rm -f .devopness/actions/{legacy}"
              f" && ln -sfn releases/{legacy} current")
    assert (live / "app.txt").read_text() == "v1\n"

    second = release_of(await deploy(client, remote, application.id))
    repo.commit({"app.txt": "v3\n"}, "third")
    third = release_of(await deploy(client, remote, application.id))
    assert releases(remote, name) == [legacy, second, third]

    back = await deploy(client, remote, application.id, {"type": "rollback"})
    assert current(remote, name) == f"releases/{second}"
    assert (live / "app.txt").read_text() == "v2\n"
    data = await action_data(db, back["id"])
    assert (data["release_name"], data["commit"]["message"]) == (second, "second")

    back = await deploy(client, remote, application.id, {"type": "rollback"})
    assert current(remote, name) == f"releases/{legacy}"
    assert (live / "app.txt").read_text() == "v1\n"
    data = await action_data(db, back["id"])
    assert (data["release_name"], data["commit"]["hash"]) == (legacy, repo.commits[0])
    assert data["commit"]["message"] == "first"
    failed = await deploy(client, remote, application.id, {"type": "rollback"},
                          expect="failed")
    assert f"no release older than the live release {legacy}" in await remote.logs(
        client, failed)

    # The legacy release stays while it is the one live before; then it is pruned.
    fourth = release_of(await deploy(client, remote, application.id))
    assert releases(remote, name) == [legacy, second, third, fourth]
    fifth = release_of(await deploy(client, remote, application.id))
    assert releases(remote, name) == [third, fourth, fifth]
    assert not any(p.name.startswith(f"{legacy}.")
                   for p in (remote.home / name / ".devopness/releases").iterdir())


def count_script_sessions(remote: Remote) -> Iterator[int]:
    """The deploy user's login shell becomes one that counts the SSH sessions that run a
    built-in script (the session command with its program's first line, remote_process.
    script_session; the rest on stdin); each `next()` says how many ran since the previous
    one."""
    shell = remote.home / ".counting-shell"
    shell.write_text('#!/bin/bash\ncase "${2:-}" in *"dv__intake="*) '
                     'echo x >> "$HOME/.script-sessions" ;; esac\nexec /bin/bash "$@"\n')
    shell.chmod(0o755)
    subprocess.run(["usermod", "-s", str(shell), remote.user], check=True)
    seen = 0
    while True:
        path = remote.home / ".script-sessions"
        total = len(path.read_text().splitlines()) if path.exists() else 0
        yield total - seen
        seen = total


async def step_outputs(
    client: httpx.AsyncClient, remote: Remote, action: dict[str, Any]
) -> dict[str, tuple[str, str]]:
    """Each step of the action's (only) target: its status and its log."""
    (target,) = action["targets"]
    out = {}
    for step in target["steps"]:
        r = await client.get(
            f"/actions/{action['id']}/targets/{target['id']}/steps/{step['order']}/logs",
            headers=remote.tenant.headers,
        )
        assert r.status_code == 200, r.text
        out[step["name"]] = (step["status"], r.json()["step"]["output"] or "")
    return out


NO_RUNTIME = "Nothing to do: no runtime needed (html none)\n"
NO_BUILD = ("Nothing to do: nothing to build: no install dependencies command, no build "
            "command and no stack default\n")
NO_HEALTH_CHECK = ("Nothing to do: no health check configured (application variable "
                   "DEVOPNESS_HEALTH_CHECK_URL or DEVOPNESS_HEALTH_CHECK_COMMAND)\n")


async def test_static_site_steps_with_nothing_to_do_open_no_session(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    """Steps with nothing to do run nothing on the server, and the built-in scripts of a
    deploy that do (fetch, then activate) share one session: each step still shows its own
    output, and only its own."""
    application = await new_application(db, remote, repo)
    name = application.name
    app_dir = remote.home / name
    sessions = count_script_sessions(remote)
    next(sessions)

    tagged = await deploy(client, remote, application.id,
                          {"type": "deploy", "source_type": "tag", "source_ref": "v1.0"})
    steps = await step_outputs(client, remote, tagged)
    assert steps["Install runtime"] == ("completed", NO_RUNTIME)
    assert steps["Install dependencies and build"] == ("completed", NO_BUILD)
    assert steps["Health check"] == ("completed", NO_HEALTH_CHECK)
    fetched, activated = steps["Fetch source"][1], steps["Activate release"][1]
    assert "(nothing to build)" in fetched and "current ->" not in fetched
    assert "current ->" in activated and "fetching" not in activated
    assert not any("devopness-step-end" in log for _, log in steps.values()), steps
    assert fetched.endswith("\n") and not fetched.endswith("\n\n"), fetched
    # Only fetch and activate ran a script on the server, in one session.
    assert next(sessions) == 1
    assert current(remote, name) == f"releases/{release_of(tagged)}"
    assert (app_dir / "current/app.txt").read_text() == "v1\n"

    latest = await deploy(client, remote, application.id)
    assert next(sessions) == 1
    assert current(remote, name) == f"releases/{release_of(latest)}"
    assert (app_dir / "current/app.txt").read_text() == "v2\n"

    # Both releases count as built: a rollback finds the older one.
    rollback = await deploy(client, remote, application.id, {"type": "rollback"})
    steps = await step_outputs(client, remote, rollback)
    assert steps["Fetch source"] == (
        "completed", "Nothing to do: rollback: nothing to fetch, an existing release "
                     "becomes live\n")
    assert steps["Install dependencies and build"] == (
        "completed", "Nothing to do: rollback: nothing to build\n")
    assert next(sessions) == 1
    assert current(remote, name) == f"releases/{release_of(tagged)}"
    assert (app_dir / "current/app.txt").read_text() == "v1\n"

    redeploy = await deploy(client, remote, application.id, {"type": "redeploy"})
    assert next(sessions) == 1
    assert current(remote, name) == f"releases/{release_of(redeploy)}"
    assert (app_dir / "current/app.txt").read_text() == "v1\n"
    assert releases(remote, name) == [release_of(a) for a in (tagged, latest, redeploy)]


async def test_build_step_runs_when_a_build_command_is_set(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    application = await new_application(db, remote, repo,
                                        build_command="cp app.txt built.txt")
    sessions = count_script_sessions(remote)
    next(sessions)
    action = await deploy(client, remote, application.id)
    steps = await step_outputs(client, remote, action)
    status, log = steps["Install dependencies and build"]
    assert status == "completed"
    assert "==> build: cp app.txt built.txt" in log and "Nothing to do" not in log
    assert "(nothing to build)" not in steps["Fetch source"][1]
    assert steps["Install runtime"] == ("completed", NO_RUNTIME)
    assert steps["Health check"] == ("completed", NO_HEALTH_CHECK)
    # Fetch, build and activate: one session.
    assert next(sessions) == 1
    assert (remote.home / application.name / "current/built.txt").read_text() == "v2\n"

    # A health check configured runs too.
    await add_variable(client, remote, application.id, "DEVOPNESS_HEALTH_CHECK_COMMAND",
                       "test -f built.txt")
    action = await deploy(client, remote, application.id)
    status, log = (await step_outputs(client, remote, action))["Health check"]
    assert status == "completed" and "==> health check passed" in log
    assert next(sessions) == 1


async def test_a_deploy_whose_variables_are_not_ascii_runs_in_one_session_in_the_servers_locale(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    """The server's sessions run in a UTF-8 locale (as PAM sets one on Debian and Ubuntu).
    A build command and a variable whose text is not ASCII reach the build whole, in that
    locale (a length counted in characters), and fetch, build and activate still share one
    session: the steps are cut from one program by byte offset, wherever the text is not
    ASCII (the command is in the program's text; variables travel in base64)."""
    application = await new_application(
        db, remote, repo, build_command=(
            'printf "%s|%s|%s|%s" "$GREETING" "${#GREETING}" "$LANG" "Olá ☕" > built.txt'))
    greeting = "olá ☕ ünïcode"
    await add_variable(client, remote, application.id, "GREETING", greeting)
    sessions = count_script_sessions(remote)
    next(sessions)
    action = await deploy(client, remote, application.id)
    steps = await step_outputs(client, remote, action)
    assert steps["Install dependencies and build"][0] == "completed"
    assert f"current -> releases/{release_of(action)}" in steps["Activate release"][1]
    assert next(sessions) == 1
    built = (remote.home / application.name / "current/built.txt").read_text()
    assert built == f"{greeting}|{len(greeting)}|C.UTF-8|Olá ☕", built


@contextlib.asynccontextmanager
async def more_servers(db: AsyncSession, remote: Remote, repo: GitRepo, count: int
                       ) -> AsyncIterator[list[tuple[Server, str, Path]]]:
    """`count` more servers on the loopback sshd, each an OS user of its own that can read
    the remote's repository: (server, user, home)."""
    others = [create_os_user() for _ in range(count)]
    try:
        # The other servers' users read the first one's repository (git checks who owns
        # it: each user trusts it in its own configuration).
        os.chmod(remote.home, 0o711)
        remote.sh(f"chmod -R o+rX {shlex.quote(str(repo.bare))}")
        servers = []
        for user, home in others:
            authorize(home, user, remote.tenant.environment.ssh_public_key)
            run_as(user, home, "git config --global --add safe.directory "
                   + shlex.quote(str(repo.bare)))
            servers.append((await rf.create_server(
                db, remote.tenant, ssh_port=remote.host.port, ssh_user=user,
                max_parallel_actions=0), user, home))
        yield servers
    finally:
        for user, _ in others:
            delete_os_user(user)


async def test_a_deploy_to_three_servers_stores_its_commit_once_per_step(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One deploy to three servers: each server gets the release and `current` on it, and
    the action shows the commit and the release they report. Every server reports the
    same, so the engine stores them once per step (fetch, then activate), not once per
    server and step: that was a transaction per target and step, the largest part of the
    engine's own work in a deploy to 50 servers."""
    async with more_servers(db, remote, repo, 2) as others:
        application = await new_application(db, remote, repo)
        for server, _, _ in others:
            await rf.link(db, "application", application.id, server)
        real = builtins._results["application"]
        stores: list[dict[str, str]] = []

        async def counted(session: AsyncSession, request: builtins.RunRequest,
                          results: dict[str, str], succeeded: bool) -> None:
            stores.append(dict(results))
            await real(session, request, results, succeeded)

        monkeypatch.setitem(builtins._results, "application", counted)

        action = await deploy(client, remote, application.id)
        assert len(action["targets"]) == 3
        release = release_of(action)
        for home in [remote.home, *(home for _, _, home in others)]:
            assert os.readlink(home / application.name / "current") == f"releases/{release}"
            assert (home / application.name / "current/app.txt").read_text() == "v2\n"
        data = await action_data(db, action["id"])
        assert data["commit"]["hash"] == repo.commits[1]
        assert data["commit"]["message"] == "second"
        assert data["release_name"] == release
        # Fetch reports the release and the commit's details, activate the release.
        assert [sorted(s) for s in stores] == [
            ["clone_url", "commit", "commit_author_email", "commit_author_name",
             "commit_date", "commit_message", "release"],
            ["release"],
        ], stores


async def test_each_server_of_a_deploy_gets_its_own_layout_and_cron_jobs(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    """The engine reads the servers' part of a deploy's parameters for all its servers at
    once: still, each server gets its own. One deploy to three servers, where the second
    keeps its applications elsewhere (its operator's DEVOPNESS_APPLICATIONS_DIR) and each
    of the other two runs one of the application's cron jobs: each release lands where its
    server keeps applications, and each crontab holds its own server's job only."""
    async with more_servers(db, remote, repo, 2) as others:
        (second, _, second_home), (third, third_user, third_home) = others
        application = await new_application(db, remote, repo)
        for server, _, _ in others:
            await rf.link(db, "application", application.id, server)
        elsewhere = second_home / "apps"
        run_as(second.ssh_user, second_home, f"mkdir {shlex.quote(str(elsewhere))}")
        await rf.create_variable(db, remote.tenant, "server", second.id,
                                 key="DEVOPNESS_APPLICATIONS_DIR", value_plain=str(elsewhere))
        jobs = {}
        for server, user in ((remote.server, remote.user), (third, third_user)):
            job = await rf.create_cron_job(
                db, remote.tenant, application_id=application.id, run_as_user=user,
                pattern="0 3 * * *", command=f"echo {user}")
            await rf.link(db, "cronjob", job.id, server)
            jobs[user] = job

        action = await deploy(client, remote, application.id)
        release = f"releases/{release_of(action)}"
        for home in (remote.home, elsewhere, third_home):
            assert os.readlink(home / application.name / "current") == release
        assert not (second_home / application.name).exists()
        for user, home in ((remote.user, remote.home), (second.ssh_user, second_home),
                           (third_user, third_home)):
            installed = run_as(user, home, "crontab -l", check=False).stdout
            blocks = re.findall(r"# BEGIN devopness cronjob (\d+)", installed)
            assert blocks == ([str(jobs[user].id)] if user in jobs else []), (user, installed)
            if user in jobs:
                assert f"echo {user}" in installed



async def test_a_deploy_whose_build_failed_completes_when_retried(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo
) -> None:
    """A failed build removes the release its deploy fetched: a retry of the deploy (once
    the cause is fixed) fetches again, builds and activates, rather than failing on the
    release that is gone."""
    flag = remote.home / ".build-may-pass"
    application = await new_application(
        db, remote, repo, build_command=f"test -f {flag} && cp app.txt built.txt")
    failed = await deploy(client, remote, application.id, expect="failed")
    assert "build failed" in await remote.logs(client, failed)
    assert not (remote.home / application.name / "current").exists()

    flag.touch()
    r = await client.post(f"/actions/{failed['id']}/retry", headers=remote.tenant.headers)
    assert r.status_code == 201, r.text
    retry = await remote.wait(client, r.json()["id"])
    (target,) = retry["targets"]
    assert {s["name"]: s["status"] for s in target["steps"]}["Fetch source"] == "completed"
    assert (remote.home / application.name / "current/built.txt").read_text() == "v2\n"
    assert current(remote, application.name) == f"releases/{release_of(retry)}"


async def deploy_unrun(client: httpx.AsyncClient, remote: Remote, app: Any,
                       application_id: int, body: dict[str, Any]) -> int:
    """The id of a deploy the API recorded but handed to no worker (the caller runs it)."""
    recorded: list[int] = []

    async def record(action_id: int) -> None:
        recorded.append(action_id)

    dispatch.set_dispatcher(record)
    try:
        r = await client.post(f"/applications/{application_id}/deployments", json=body,
                              headers=remote.tenant.headers)
    finally:
        dispatch.set_dispatcher(app.state.runner.submit)
    assert r.status_code in (200, 201, 204), r.text
    [action_id] = recorded
    return action_id


def engine_process(settings: Settings, action_id: int) -> subprocess.Popen[bytes]:
    """A worker process of its own running the action, as `devopness-server worker` runs
    one, with the server records of the database."""
    return subprocess.Popen(
        [sys.executable, "-m", "workers.engine", str(action_id)],
        env={**os.environ, "DATABASE_URL": settings.database_url,
             "SECRET_KEY": settings.secret_key, "ACTION_HEARTBEAT_SECONDS": "0.5",
             "PYTHONPATH": str(Path(__file__).resolve().parents[2])})


async def test_a_worker_killed_while_a_shared_session_builds_is_cleaned_up_by_the_retry(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo, app: Any,
    settings: Settings,
) -> None:
    """Fetch, build and activate share a session. A worker process SIGKILLed while the
    build runs leaves the session running on the server; once the action is reaped, its
    retry stops that session (found by the markers it carries) before it deploys again, so
    the build never runs twice at once, and the retry completes."""
    token = f"{int(time.time() * 1000) % 10**6:06d}"
    pattern = f"slee[p] 986.{token}"
    flag = remote.home / f".built-{token}"
    application = await new_application(
        db, remote, repo,
        # `$d`: the build's own command line must not match the pattern.
        build_command=(f"d=986; if [ -f {flag} ]; then if pgrep -f '{pattern}' >/dev/null;"
                       f" then echo twice-at-once; exit 1; fi; echo recovered; else"
                       f" echo started; sleep $d.{token}; fi"))
    # The API records the action; a worker process of its own runs it.
    action_id = await deploy_unrun(client, remote, app, application.id, MAIN)
    # Killed once the build printed `started` on a line of its own (its command is logged).
    await sigkill_once_started(app, action_id, engine_process(settings, action_id),
                               tries=600, printed="\nstarted")
    assert _alive(pattern), "the dead worker's build should still be running"
    await asyncio.sleep(1.2)
    assert await reap(
        app.state.database, settings.model_copy(update={"action_stale_seconds": 1})
    ) == [action_id]

    flag.touch()
    retry = await client.post(f"/actions/{action_id}/retry", headers=remote.tenant.headers)
    assert retry.status_code == 201, retry.text
    done = await remote.wait(client, retry.json()["id"])
    logs = await remote.logs(client, done)
    assert "\nrecovered\n" in logs and "\ntwice-at-once\n" not in logs, logs
    assert not _alive(pattern)
    assert (remote.home / application.name / "current/app.txt").read_text() == "v2\n"

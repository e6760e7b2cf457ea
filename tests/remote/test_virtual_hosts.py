"""Virtual hosts on a real server: nginx sites rendered, tested with `nginx -t`, enabled,
served by a real nginx run by the test user, rolled back when nginx rejects them, removed
when the host is deleted."""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Action
from tests import resource_factories as rf
from tests.actions.ssh_servers import free_port
from tests.remote.conftest import Remote
from tests.virtual_hosts.nginx_layout import NginxLayout, make_layout


@pytest.fixture
async def nginx(db: AsyncSession, remote: Remote) -> NginxLayout:
    return await make_layout(db, remote)


def write_site(remote: Remote, directory: Path, text: str) -> None:
    remote.sh(f"mkdir -p {directory} && printf '%s' '{text}' > {directory}/index.html")


@pytest.fixture
async def raw_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API without the reference check. A removal's action carries the parameters
    captured at deletion in `action_data.env`, which the reference's ActionData (deployment
    data only) does not describe: GET /actions/{id} of a removal breaks the contract check
    (reported to the action engine's owner)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                 headers={"Accept": "application/json"}) as c:
        yield c


async def removal_action(db: AsyncSession, resource_type: str, resource_id: int) -> int:
    action_id = await db.scalar(
        select(Action.id).where(Action.resource_type == resource_type,
                                Action.resource_id == resource_id, Action.type == "remove")
    )
    assert action_id is not None, "deleting a deployed resource starts its remove action"
    return action_id


async def test_root_site_is_rendered_enabled_and_served(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, nginx: NginxLayout
) -> None:
    www = remote.home / "www"
    write_site(remote, www, "hello from the root site")
    host = await rf.create_virtual_host(db, remote.tenant, name="shop.example.com",
                                        root_directory=str(www))
    await rf.link(db, "virtual-host", host.id, remote.server)
    nginx.start()

    action = await remote.operate(client, f"/virtual-hosts/{host.id}/deploy")
    config = nginx.available(host.id).read_text()
    assert f"listen {nginx.http_port};" in config
    assert "server_name shop.example.com;" in config
    assert f'root "{www}";' in config
    assert "location ^~ /.well-known/acme-challenge/" in config
    assert f'root "{nginx.acme_webroot}";' in config
    assert "ssl_certificate" not in config and "proxy_pass" not in config
    assert nginx.enabled(host.id).is_symlink()
    assert nginx.enabled(host.id).resolve() == nginx.available(host.id)
    nginx.test_config()
    logs = await remote.logs(client, action)
    assert "changed" in logs and "nginx reloaded" in logs
    # The running nginx picked it up (reload) and serves the directory for that name.
    body = nginx.curl(f"-H 'Host: shop.example.com' http://127.0.0.1:{nginx.http_port}/")
    assert body == "hello from the root site"
    # ACME challenges are answered from the webroot (what HTTP-01 issuance needs).
    challenge = nginx.acme_webroot / ".well-known" / "acme-challenge"
    remote.sh(f"printf token-body > {challenge}/t0k3n")
    body = nginx.curl(f"-H 'Host: shop.example.com' "
                      f"http://127.0.0.1:{nginx.http_port}/.well-known/acme-challenge/t0k3n")
    assert body == "token-body"

    # Idempotent: a second deploy leaves the same files.
    before = {p.name: p.read_text() for p in (nginx.root / "sites-available").iterdir()}
    action = await remote.operate(client, f"/virtual-hosts/{host.id}/deploy")
    after = {p.name: p.read_text() for p in (nginx.root / "sites-available").iterdir()}
    assert after == before
    assert sorted(p.name for p in (nginx.root / "sites-enabled").iterdir()) == [
        f"devopness-vh-{host.id}.conf"]
    assert "unchanged" in await remote.logs(client, action)

    action = await remote.operate(client, f"/virtual-hosts/{host.id}/get-status")
    logs = await remote.logs(client, action)
    assert "is enabled" in logs and "configuration test passed" in logs
    assert "answers HTTP 200" in logs


class _Backend(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (f"backend saw {self.path} host={self.headers['Host']} "
                f"proto={self.headers['X-Forwarded-Proto']}").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Backend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


async def test_reverse_proxy_site_forwards_to_the_application(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, nginx: NginxLayout,
    backend: int,
) -> None:
    host = await rf.create_virtual_host(
        db, remote.tenant, name="api.example.com", root_directory=None,
        application_listen_address=f"http://127.0.0.1:{backend}",
    )
    await rf.link(db, "virtual-host", host.id, remote.server)
    nginx.start()
    await remote.operate(client, f"/virtual-hosts/{host.id}/deploy")
    config = nginx.available(host.id).read_text()
    assert f'proxy_pass "http://127.0.0.1:{backend}";' in config
    assert "proxy_set_header Host $host;" in config
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in config
    assert "root " not in config.split("location / {")[1]
    body = nginx.curl(f"-H 'Host: api.example.com' http://127.0.0.1:{nginx.http_port}/orders?x=1")
    assert body == "backend saw /orders?x=1 host=api.example.com proto=http"


async def test_ip_based_site_serves_the_application_current_release(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, nginx: NginxLayout
) -> None:
    application = await rf.create_application(db, remote.tenant, name="storefront")
    current = nginx.applications_dir / "storefront" / "current"
    write_site(remote, current / "public", "release two")
    port = free_port()
    # Created through the API: an application's root directory is relative to it.
    r = await client.post(
        f"/environments/{remote.tenant.environment.id}/virtual-hosts",
        json={"type": "ip-based", "name": f"127.0.0.1:{port}", "application_id": application.id,
              "root_directory": "public", "linked_resources": [
                  {"resource_type": "server", "resource_id": remote.server.id}]},
        headers=remote.tenant.headers,
    )
    assert r.status_code == 201, r.text
    host_id = r.json()["id"]
    nginx.start()
    await remote.operate(client, f"/virtual-hosts/{host_id}/deploy")
    config = nginx.available(host_id).read_text()
    # On the address given, not on every interface.
    assert f"listen 127.0.0.1:{port};" in config and "server_name 127.0.0.1;" in config
    assert "[::]" not in config
    assert f'root "{current}/public";' in config
    assert nginx.curl(f"http://127.0.0.1:{port}/") == "release two"


async def test_rejected_configuration_keeps_the_previous_site(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, nginx: NginxLayout
) -> None:
    www = remote.home / "www"
    write_site(remote, www, "still serving")
    host = await rf.create_virtual_host(db, remote.tenant, name="blog.example.com",
                                        root_directory=str(www))
    await rf.link(db, "virtual-host", host.id, remote.server)
    nginx.start()
    await remote.operate(client, f"/virtual-hosts/{host.id}/deploy")
    good = nginx.available(host.id).read_text()

    # Accepted by the API, refused by nginx: `$` starts a variable in nginx strings.
    r = await client.put(f"/virtual-hosts/{host.id}",
                         json={"id": host.id, "name": host.name, "root_directory": "/srv/$nope"},
                         headers=remote.tenant.headers)
    assert r.status_code in (200, 204), r.text
    action = await remote.operate(client, f"/virtual-hosts/{host.id}/deploy", expect="failed")
    logs = await remote.logs(client, action)
    assert "nginx rejected the new configuration of virtual host blog.example.com" in logs
    assert 'unknown "nope" variable' in logs
    assert nginx.available(host.id).read_text() == good
    assert nginx.enabled(host.id).is_symlink()
    assert not list((nginx.root / "sites-available").glob("*.devopness-*"))
    nginx.test_config()
    assert nginx.curl(f"-H 'Host: blog.example.com' http://127.0.0.1:{nginx.http_port}/") == (
        "still serving")

    # A new host nginx refuses leaves no site behind at all.
    bad = await rf.create_virtual_host(db, remote.tenant, name="bad.example.com",
                                       root_directory="/srv/$nope")
    await rf.link(db, "virtual-host", bad.id, remote.server)
    await remote.operate(client, f"/virtual-hosts/{bad.id}/deploy", expect="failed")
    assert not nginx.available(bad.id).exists()
    assert not nginx.enabled(bad.id).is_symlink()
    nginx.test_config()


async def test_invalid_base_configuration_is_reported_and_left_alone(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, nginx: NginxLayout
) -> None:
    host = await rf.create_virtual_host(db, remote.tenant, name="x.example.com",
                                        root_directory="/srv/x")
    await rf.link(db, "virtual-host", host.id, remote.server)
    broken = nginx.conf.read_text().replace("events {", "events { no_such_directive on;")
    nginx.conf.write_text(broken)
    action = await remote.operate(client, f"/virtual-hosts/{host.id}/deploy", expect="failed")
    logs = await remote.logs(client, action)
    assert "already invalid before this change" in logs
    assert 'unknown directive "no_such_directive"' in logs
    assert not nginx.available(host.id).exists()
    assert nginx.conf.read_text() == broken


async def test_get_status_of_a_host_that_is_not_deployed_fails_clearly(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, nginx: NginxLayout
) -> None:
    host = await rf.create_virtual_host(db, remote.tenant, name="ghost.example.com")
    await rf.link(db, "virtual-host", host.id, remote.server)
    action = await remote.operate(client, f"/virtual-hosts/{host.id}/get-status",
                                  expect="failed")
    assert "ghost.example.com is not deployed on this server" in await remote.logs(client, action)


async def test_deleting_a_host_removes_its_site(
    client: httpx.AsyncClient, raw_client: httpx.AsyncClient, db: AsyncSession,
    remote: Remote, nginx: NginxLayout,
) -> None:
    www = remote.home / "www"
    write_site(remote, www, "soon gone")
    host = await rf.create_virtual_host(db, remote.tenant, name="old.example.com",
                                        root_directory=str(www))
    await rf.link(db, "virtual-host", host.id, remote.server)
    nginx.start()
    await remote.operate(client, f"/virtual-hosts/{host.id}/deploy")
    assert nginx.available(host.id).exists()

    r = await client.delete(f"/virtual-hosts/{host.id}", headers=remote.tenant.headers)
    assert r.status_code == 204, r.text
    action = await remote.wait(raw_client, await removal_action(db, "virtual-host", host.id))
    assert "removed" in await remote.logs(raw_client, action)
    assert not nginx.available(host.id).exists()
    assert not nginx.enabled(host.id).is_symlink()
    nginx.test_config()
    # nginx was reloaded: the name now falls through to the (only remaining) default.
    code = nginx.curl(f"-o /dev/null -w '%{{http_code}}' -H 'Host: old.example.com' "
                      f"http://127.0.0.1:{nginx.http_port}/ || true")
    assert code != "200"


async def test_another_tenant_cannot_operate_a_virtual_host(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    host = await rf.create_virtual_host(db, remote.tenant)
    await rf.link(db, "virtual-host", host.id, remote.server)
    other = await rf.create_tenant(db)
    for operation in ("deploy", "get-status"):
        r = await client.post(f"/virtual-hosts/{host.id}/{operation}", json={},
                              headers=other.headers)
        assert r.status_code == 404, r.text


@pytest.fixture
def system_dir() -> Iterator[Path]:
    """A root-owned directory standing for /etc/nginx."""
    path = Path(tempfile.mkdtemp(prefix="dvp-system-nginx-"))
    path.chmod(0o755)
    yield path
    pid_file = path / "nginx.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGQUIT)
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def passwordless_sudo(user: str) -> Iterator[None]:
    sudoers = Path(f"/etc/sudoers.d/{user}")
    sudoers.write_text(f"{user} ALL=(ALL) NOPASSWD:ALL\n")
    sudoers.chmod(0o440)
    try:
        yield
    finally:
        sudoers.unlink(missing_ok=True)


def start_as_root(nginx: NginxLayout) -> None:
    subprocess.run(["nginx", "-e", str(nginx.error_log), "-c", str(nginx.conf)], check=True)


def owner_and_mode(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_uid, stat.S_IMODE(info.st_mode)


async def test_a_root_owned_nginx_directory_needs_root_then_goes_through_sudo(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, system_dir: Path
) -> None:
    """As on a stock server: /etc/nginx owned by root, an SSH user with sudo."""
    nginx = await make_layout(db, remote, root=system_dir)
    www = remote.home / "www"
    write_site(remote, www, "served by the system nginx")
    remote.sh(f"chmod 755 {remote.home}")
    host = await rf.create_virtual_host(db, remote.tenant, name="sys.example.com",
                                        root_directory=str(www))
    await rf.link(db, "virtual-host", host.id, remote.server)

    action = await remote.operate(client, f"/virtual-hosts/{host.id}/deploy", expect="failed")
    logs = await remote.logs(client, action)
    assert f"{system_dir} is not writable by {remote.user}" in logs
    assert "passwordless sudo" in logs
    assert not nginx.available(host.id).exists()

    with passwordless_sudo(remote.user):
        start_as_root(nginx)
        await remote.operate(client, f"/virtual-hosts/{host.id}/deploy")
        assert owner_and_mode(nginx.available(host.id)) == (0, 0o644)
        assert nginx.enabled(host.id).is_symlink()
        # Reloaded through sudo: root's nginx serves the new site.
        assert nginx.curl(f"-H 'Host: sys.example.com' http://127.0.0.1:{nginx.http_port}/") == (
            "served by the system nginx")

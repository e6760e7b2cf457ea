"""A private nginx for one remote test user: configuration, sites, pid, logs and temporary
files under the user's home, ports above 1024, pointed at by server variables exactly as an
operator points scripts at a non-default layout. The user can run it (`start`)."""

from __future__ import annotations

import os
import pwd
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from tests import resource_factories as rf
from tests.actions.ssh_servers import free_port
from tests.remote.conftest import Remote, Shell


@dataclass
class NginxLayout:
    remote: Shell
    root: Path
    http_port: int
    https_port: int

    @property
    def conf(self) -> Path:
        return self.root / "nginx.conf"

    @property
    def error_log(self) -> Path:
        return self.root / "error.log"

    @property
    def ssl_dir(self) -> Path:
        return self.remote.home / "ssl"

    @property
    def acme_webroot(self) -> Path:
        return self.remote.home / "acme"

    @property
    def certbot_dir(self) -> Path:
        return self.remote.home / "letsencrypt"

    @property
    def applications_dir(self) -> Path:
        return self.remote.home / "apps"

    def available(self, host_id: int) -> Path:
        return self.root / "sites-available" / f"devopness-vh-{host_id}.conf"

    def enabled(self, host_id: int) -> Path:
        return self.root / "sites-enabled" / f"devopness-vh-{host_id}.conf"

    def nginx(self, args: str) -> str:
        return f"nginx -e {self.error_log} -c {self.conf} {args}"

    def test_config(self) -> None:
        self.remote.sh(self.nginx("-t -q"))

    def start(self) -> None:
        self.remote.sh(self.nginx(""))
        deadline = time.monotonic() + 10
        while not (self.root / "nginx.pid").exists():
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)

    def running(self) -> bool:
        pid_file = self.root / "nginx.pid"
        if not pid_file.exists():
            return False
        return Path(f"/proc/{pid_file.read_text().strip()}").exists()

    def curl(self, args: str) -> str:
        return self.remote.sh(f"curl -sS -m 10 {args}").stdout


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for dirpath, _dirs, files in os.walk(path):
        os.chown(dirpath, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid)


def write_layout(machine: Shell, root: Path | None = None
                 ) -> tuple[NginxLayout, dict[str, str]]:
    """The layout's files under the user's home, or at `root` (then left to its owner: a
    root-owned `root` stands for /etc/nginx), and the server variables pointing at it."""
    own = root is None
    root = root or machine.home / "nginx"
    layout = NginxLayout(machine, root, free_port(), free_port())
    for sub in ("sites-available", "sites-enabled", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    temp = root / "tmp"
    layout.conf.write_text(f"""\
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    # What a stock install has: a catch-all for names no site claims.
    server {{
        listen {layout.http_port} default_server;
        return 404;
    }}
    include {root}/sites-enabled/*.conf;
}}
""")
    if own:
        _chown_tree(root, machine.user)
    variables = {
        "DEVOPNESS_NGINX_DIR": str(root),
        "DEVOPNESS_NGINX_ERROR_LOG": str(layout.error_log),
        "DEVOPNESS_NGINX_HTTP_PORT": str(layout.http_port),
        "DEVOPNESS_NGINX_HTTPS_PORT": str(layout.https_port),
        "DEVOPNESS_NGINX_IPV6": "0",
        "DEVOPNESS_SSL_DIR": str(layout.ssl_dir),
        "DEVOPNESS_ACME_WEBROOT": str(layout.acme_webroot),
        "DEVOPNESS_CERTBOT_DIR": str(layout.certbot_dir),
        "DEVOPNESS_APPLICATIONS_DIR": str(layout.applications_dir),
    }
    return layout, variables


async def make_layout(db: AsyncSession, remote: Remote, root: Path | None = None
                      ) -> NginxLayout:
    """The layout (see `write_layout`), its variables stored on the test's server."""
    layout, variables = write_layout(remote, root)
    for key, value in variables.items():
        await rf.create_variable(db, remote.tenant, "server", remote.server.id, key=key,
                                 value_plain=value)
    return layout

"""What the applications, daemons, cron jobs, virtual hosts and SSL certificates guides
need to check what happens on a server: one machine for these sections.

The machine is a fresh unprivileged OS user on the loopback sshd (tests/remote), added
as a server the way servers/add-server tells it (its connect command run on it, which
provisions it), with a git repository on it, its own nginx (ports above 1024, files in
its home) and its own supervisord. Each guide's test adds its own application, daemon,
cron job or virtual host in the machine's environment, with unique names.

The nginx layout is set through server variables, which an operator stores (the API
refuses `DEVOPNESS_*` names): written here into the guide server's database, as the
owner bootstrap is.
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.database import build_engine
from app.servers.models import Server
from app.variables.models import Variable
from tests.remote.conftest import SSHHost, create_os_user, delete_os_user, run_as, sshd_host
from tests.remote.git_repos import GitRepo, make_repo
from tests.virtual_hosts.nginx_layout import NginxLayout, write_layout

if TYPE_CHECKING:
    from tests.guides.conftest import Guide, GuideServer, Workspace

__all__ = ["Machine", "Site", "site", "sshd_host"]

FINISHED = ("completed", "failed")
# The static site every guide deploys: no runtime to install, so what is checked is the
# deploy itself (what issue 17 changes for language runtimes stays out of the way).
STATIC = {"programming_language": "html", "framework": "none", "engine_version": "none"}


@dataclass
class Machine:
    user: str
    home: Path

    def sh(self, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_as(self.user, self.home, command, check)


@dataclass
class Site:
    """The guides' server: a workspace, its connected loopback server and what runs on it."""

    guide: Guide
    where: Workspace
    server: Any
    machine: Machine
    nginx: NginxLayout
    repo: GitRepo
    credential: Any
    _page_versions: dict[str, int] = field(default_factory=dict)

    def application(self, **fields: Any) -> Any:
        """An application of the site's repository (the fields add-application names),
        cloned from the bare repository on the machine (its `DEVOPNESS_GIT_URL`)."""
        from tests.guides.conftest import unique

        body = {"name": unique("app"), "repository": "octo/shop",
                "credential_id": self.credential.id, "default_branch": "main",
                **STATIC, **fields}
        application = self.guide.c.applications.add_environment_application(
            self.where.env.id, body).data
        self.guide.c.variables.add_variable(application.id, "application", {
            "key": "DEVOPNESS_GIT_URL", "value": self.repo.url, "type": "variable",
            "target": "os-env-var", "hidden": False,
        })
        return application

    def finished(self, action_id: int | None, expect: str | None = "completed") -> Any:
        """The action once it has finished; its status checked (with its logs on a miss)."""
        assert action_id is not None
        c = self.guide.c
        deadline = time.monotonic() + 120
        action = c.actions.get_action(action_id).data
        while action.status not in FINISHED and time.monotonic() < deadline:
            time.sleep(0.2)
            action = c.actions.get_action(action_id).data
        if expect is not None:
            assert action.status == expect, f"{action.status}: {self.logs(action)}"
        return action

    def logs(self, action: Any) -> str:
        out = []
        for target in action.targets:
            for step in target.steps:
                log = self.guide.c.actions.get_action_log(action.id, step.order, target.id).data
                out.append(f"--- {step.name} ({step.status})\n{log.step.output or ''}")
        return "\n".join(out)

    def fetch(self, host: str, path: str = "/") -> tuple[int, str]:
        """A visitor's request to the machine's nginx for `host`: (status, body)."""
        out = self.machine.sh(
            f"curl -s -m 10 -o /tmp/{self.machine.user}.page -w '%{{http_code}}' "
            f"-H {shlex.quote('Host: ' + host)} "
            f"http://127.0.0.1:{self.nginx.http_port}{shlex.quote(path)}; echo; "
            f"cat /tmp/{self.machine.user}.page 2>/dev/null; rm -f /tmp/{self.machine.user}.page"
        ).stdout
        code, _, body = out.partition("\n")
        return int(code), body

    def unique_sleep(self) -> str:
        """A command line of this run's own, so that `pids` finds only its processes."""
        return f"sleep {1_000_000 + secrets.randbelow(1_000_000)}"

    def pids(self, command: str) -> set[int]:
        """The machine user's processes running exactly `command`."""
        out = self.machine.sh(f"pgrep -u \"$(id -u)\" -x -f {shlex.quote(command)} || true").stdout
        return {int(p) for p in out.split()}

    def crontab(self) -> str:
        return self.machine.sh("crontab -l", check=False).stdout

    def wait_until(self, check: Any, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            assert time.monotonic() < deadline, "timed out waiting on the machine"
            time.sleep(0.1)


def store_operator_settings(server: GuideServer, server_id: int, values: dict[str, str]
                            ) -> None:
    """Server variables an operator stores (never through the API)."""
    async def store() -> None:
        engine = build_engine(server.settings)
        try:
            async with async_sessionmaker(engine)() as session:
                record = await session.get(Server, server_id)
                assert record is not None
                for key, value in values.items():
                    session.add(Variable(
                        environment_id=record.environment_id, project_id=record.project_id,
                        created_by=record.created_by, resource_type="server",
                        resource_id=server_id, key=key, type="variable", target="os-env-var",
                        value_plain=value, hidden=False,
                    ))
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(store())


def connect(guide: Guide, environment_id: int, machine: Machine, port: int) -> Any:
    """servers/add-server for a machine of one's own: the server record, then its connect
    command run on the machine as the user actions log in as; it provisions the server."""
    from tests.guides.conftest import unique

    c = guide.c
    server = c.servers.add_environment_server(environment_id, {
        "hostname": unique("web"), "ip_address": "127.0.0.1", "ssh_port": port,
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    }).data
    command = c.servers.get_server_commands(server.id).data.connect_command
    ran = machine.sh(command)
    assert "Server successfully connected" in ran.stdout, ran.stdout + ran.stderr
    provision = c.actions.list_actions_by_resource_type(server.id, "server").data[0]
    deadline = time.monotonic() + 120
    action = c.actions.get_action(provision.id).data
    while action.status not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.2)
        action = c.actions.get_action(provision.id).data
    assert action.status == "completed", action.status
    return c.servers.get_server(server.id).data


@pytest.fixture(scope="session")
def site(guide_server: GuideServer, sshd_host: SSHHost) -> Iterator[Site]:
    from tests.guides.conftest import Guide

    user, home = create_os_user()
    machine = Machine(user, home)
    guide = Guide(guide_server, guide_server.token)
    try:
        where = guide.workspace()
        credential = guide.github_credential(where.org.id, where.env.id)
        server = connect(guide, where.env.id, machine, sshd_host.port)
        nginx, variables = write_layout(machine)
        # Applications live in the SSH user's home, as the deploy guide shows (`~/name`).
        variables.pop("DEVOPNESS_APPLICATIONS_DIR")
        store_operator_settings(guide_server, server.id, variables)
        nginx.start()
        repo = make_repo(machine, "shop")
        repo.commit({"public/index.html": "<h1>shop v1</h1>\n"}, "v1")
        yield Site(guide, where, server, machine, nginx, repo, credential)
    finally:
        machine.sh(
            f"[ -f {home}/nginx/nginx.pid ] && nginx -c {home}/nginx/nginx.conf "
            f"-e {home}/nginx/error.log -s stop; "
            "c=~/.config/devopness/supervisor/supervisord.conf; "
            "[ -f $c ] && supervisorctl -c $c shutdown; true", check=False)
        guide.http.close()
        delete_os_user(user)

"""A new user's journey, step by step as the product docs tell it, through the official SDK
in strict mode against a real server process, on a real Debian machine reached over SSH
(tests/remote/roothost.py: its own network, offline, apt installing from its image):

add an existing server and run its connect command on the machine as root
(servers/add-existing-server), install nginx as a service (services/add-service), add a
git application without choosing servers (applications/add-application; the first deploy
links the server, applications/deploy-application), an ip-based virtual host for it
(virtual-hosts/add-virtual-host, deployed with the server chosen: pipelines/run-pipeline),
then deploy, fetch the page through nginx, deploy a new commit, roll back, push a broken
build (the live release keeps serving), redeploy, and deploy a fix.

What is asserted is what a user sees: HTTP answers, action statuses, step logs, recorded
commits, and no secret in any log."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from devopness import DevopnessClient

from tests.conftest import Mailbox
from tests.e2e.conftest import LiveServer, sign_up_and_log_in, source_credential
from tests.remote import roothost

FINISHED = ("completed", "failed")
SECRET = "journey-s3cret-'quoted'-$HOME"
DEPLOY = {"type": "deploy", "source_type": "branch", "source_ref": "main"}


@pytest.fixture(scope="module")
def machine() -> Iterator[roothost.RootHost]:
    yield from roothost.machine_or_skip()


def as_admin_with_network(
    host: roothost.RootHost, command: str
) -> subprocess.CompletedProcess[str]:
    """Root on the machine, in a shell that reaches this machine's loopback (where the API
    listens), as an administrator pastes the connect command."""
    return subprocess.run(
        ["nsenter", "-t", str(host.init_pid), "-m", "-p", "--", "chroot", str(host.root),
         "/bin/sh", "-c", command],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"},
    )


class Repository:
    """A bare git repository on the machine, owned by the deploy user, and a work tree
    beside it: a developer pushing to a self-hosted git host."""

    def __init__(self, host: roothost.RootHost, user: str) -> None:
        self.host, self.user = host, user
        self.bare, self.work = "/srv/git/shop.git", "/srv/git/shop-work"
        host.sh(f"mkdir -p /srv/git && chown {user}: /srv/git")
        self._as_user(f"git init -q --bare -b main {self.bare} && git init -q -b main "
                      f"{self.work} && git -C {self.work} remote add origin {self.bare}")

    def _as_user(self, command: str) -> str:
        return self.host.sh(f"runuser -u {self.user} -- sh -c {shlex.quote(command)}").stdout

    def commit(self, files: dict[str, str], message: str) -> str:
        writes = " && ".join(
            f"mkdir -p $(dirname {shlex.quote(name)}) && printf %s {shlex.quote(text)} > "
            f"{shlex.quote(name)}" for name, text in files.items()
        )
        self._as_user(
            f"cd {self.work} && {writes} && git add -A && git -c user.name=Dev "
            f"-c user.email=dev@example.test commit -q -m {shlex.quote(message)} && "
            "git push -q origin HEAD:refs/heads/main"
        )
        return self._as_user(f"git -C {self.work} rev-parse HEAD").strip()


def fetch(host: roothost.RootHost, url: str) -> tuple[int, str]:
    """A visitor's request, made on the machine (nginx listens in its own network)."""
    out = host.sh(f"curl -s -o /tmp/page -w '%{{http_code}}' {shlex.quote(url)}; echo; "
                  "cat /tmp/page 2>/dev/null || true").stdout
    code, _, body = out.partition("\n")
    return int(code), body


def wait(c: DevopnessClient, action_id: int) -> Any:
    deadline = time.monotonic() + 300
    while True:
        action = c.actions.get_action(action_id).data
        if action.status in FINISHED or time.monotonic() > deadline:
            return action
        time.sleep(0.3)


def logs(c: DevopnessClient, action: Any) -> str:
    out = []
    for target in action.targets:
        for step in target.steps:
            log = c.actions.get_action_log(action.id, step.order, target.id).data
            out.append(f"--- {step.name} ({step.status}): {log.step.output or ''}")
    return "\n".join(out)


class Journey:
    def __init__(self, c: DevopnessClient) -> None:
        self.c = c
        self.all_logs: list[str] = []

    def finished(self, action_id: int | None, expect: str = "completed") -> tuple[Any, str]:
        assert action_id is not None
        action = wait(self.c, action_id)
        text = logs(self.c, action)
        self.all_logs.append(text)
        assert action.status == expect, f"{action.status}: {text}"
        return action, text


@pytest.mark.roothost
def test_a_new_users_journey_from_connect_to_rollback(
    live_server: LiveServer, mailbox: Mailbox, machine: roothost.RootHost
) -> None:
    access = sign_up_and_log_in(live_server, mailbox, "journey@example.com", "journey-pass-1")
    c = DevopnessClient(
        {"base_url": live_server.url, "api_token": access, "strict_validation_mode": True}
    )
    j = Journey(c)
    org = c.organizations.add_organization(
        {"name": "Journey Shop", "url_slug": "journey-shop-org"}
    ).data
    project = c.projects.add_organization_project(org.id, {"name": "Shop"}).data
    env = c.environments.add_project_environment(
        project.id, {"type": "production", "name": "Production"}
    ).data.id

    # 1. Add an existing server, then run its connect command on the machine as root.
    server = c.servers.add_environment_server(env, {
        "hostname": "web-1", "ip_address": "127.0.0.1", "ssh_port": machine.port,
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    }).data
    # The machine is offline: refreshing apt's lists fails and the lists it has are used.
    machine.sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl sudo >/dev/null")
    command = c.servers.get_server_commands(server.id).data.connect_command
    ran = as_admin_with_network(machine, command)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Server successfully connected" in ran.stdout
    provision = c.actions.list_actions_by_resource_type(server.id, "server").data[0]
    _, text = j.finished(provision.id)
    assert "installing base packages" in text
    connected = c.servers.get_server(server.id).data
    assert connected.status == "running"

    # 2. Install nginx as a service, deployed to the server chosen.
    nginx = c.services.add_environment_service(env, {"type": "nginx", "version": "latest"}).data
    response = c.services.deploy_service(nginx.id, {"servers": [server.id]})
    _, text = j.finished(response.action_id)
    assert "installing nginx" in text and "##devopness-result state=active" in text
    assert [s.id for s in c.services.get_service(nginx.id).data.servers] == [server.id]

    # 3. A git application; no server chosen yet.
    repo = Repository(machine, "devopness")
    build = 'mkdir -p public && cp index.html public/ && echo "token is $API_TOKEN"\n'
    first = repo.commit({"index.html": "<h1>shop v1</h1>\n", "build.sh": build}, "v1")
    application = c.applications.add_environment_application(env, {
        "name": "shop", "repository": repo.bare, "credential_id": source_credential(c, org.id, env),
        "programming_language": "html", "framework": "none", "engine_version": "none",
        "default_branch": "main", "build_command": "sh build.sh",
    }).data
    assert application.servers == []
    c.variables.add_variable(application.id, "application", {
        "key": "API_TOKEN", "value": SECRET, "type": "variable", "target": "os-env-var",
        "hidden": True,
    })

    # 4. Deploy: the environment's server is linked on this first deploy.
    response = c.applications.add_application_deployment(application.id, DEPLOY)
    deployed, text = j.finished(response.action_id)
    assert [t.resource_id for t in deployed.targets] == [server.id]
    assert "token is" in text
    assert deployed.action_data.commit.hash == first
    assert [s.id for s in c.applications.get_application(application.id).data.servers] == [
        server.id
    ]
    links = c.resource_links.list_resource_links_by_resource_type(
        application.id, "application").data
    assert [(x.resource_type, x.resource_id) for x in links] == [("server", server.id)]

    # 5. An ip-based virtual host for the application, deployed to the server.
    host = c.virtual_hosts.add_environment_virtual_host(env, {
        "type": "ip-based", "name": "127.0.0.1", "application_id": application.id,
        "root_directory": "public",
    }).data
    response = c.virtual_hosts.deploy_virtual_host(host.id, {"servers": [server.id]})
    j.finished(response.action_id)
    assert fetch(machine, "http://127.0.0.1/") == (200, "<h1>shop v1</h1>\n")
    # On the server's address it was named after, not on every interface.
    site = machine.sh(f"cat /etc/nginx/sites-enabled/devopness-vh-{host.id}.conf").stdout
    assert "listen 127.0.0.1:80;" in site and "[::]" not in site

    # 6. A new commit, deployed.
    second = repo.commit({"index.html": "<h1>shop v2</h1>\n"}, "v2")
    response = c.applications.add_application_deployment(application.id, DEPLOY)
    deployed, _ = j.finished(response.action_id)
    assert deployed.action_data.commit.hash == second
    assert fetch(machine, "http://127.0.0.1/") == (200, "<h1>shop v2</h1>\n")

    # 7. Roll back: the previous release serves again, and the action says which commit.
    response = c.applications.add_application_deployment(application.id, {"type": "rollback"})
    rolled, _ = j.finished(response.action_id)
    assert fetch(machine, "http://127.0.0.1/") == (200, "<h1>shop v1</h1>\n")

    # 8. A broken build fails its deploy; the live release keeps serving.
    repo.commit({"index.html": "<h1>shop v3</h1>\n", "build.sh": "echo broken >&2; exit 3\n"},
                "v3 broken")
    response = c.applications.add_application_deployment(application.id, DEPLOY)
    failed, text = j.finished(response.action_id, expect="failed")
    assert "broken" in text
    assert [s.status for s in failed.targets[0].steps].count("failed") == 1
    assert fetch(machine, "http://127.0.0.1/") == (200, "<h1>shop v1</h1>\n")

    # 9. Redeploy what is live, then deploy the fix.
    response = c.applications.add_application_deployment(application.id, {"type": "redeploy"})
    j.finished(response.action_id)
    assert fetch(machine, "http://127.0.0.1/") == (200, "<h1>shop v1</h1>\n")
    fixed = repo.commit({"index.html": "<h1>shop v4</h1>\n", "build.sh": build}, "v4 fixed")
    response = c.applications.add_application_deployment(application.id, DEPLOY)
    deployed, _ = j.finished(response.action_id)
    assert deployed.action_data.commit.hash == fixed
    assert fetch(machine, "http://127.0.0.1/") == (200, "<h1>shop v4</h1>\n")

    # Nothing secret reached any log: the hidden variable, the environment's private key.
    everything = "\n".join(j.all_logs)
    assert SECRET not in everything
    assert "PRIVATE KEY" not in everything

    # The rollback recorded which commit went live (issue 16, defect 5).
    rolled = c.actions.get_action(rolled.id).data
    assert rolled.action_data is not None and rolled.action_data.commit.hash == first

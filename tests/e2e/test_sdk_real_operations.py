"""Issue 6 through the official SDK against a real server process: connect a self-hosted
machine by running the command the API hands out (a fresh OS user on a loopback sshd),
create an application from a local git repository, deploy it twice, and read every
step's log."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from devopness import DevopnessClient

from tests.conftest import Mailbox
from tests.e2e.conftest import LiveServer, sign_up_and_log_in, source_credential
from tests.remote.conftest import (  # noqa: F401  (sshd_host is a fixture)
    SSHHost,
    create_os_user,
    delete_os_user,
    sshd_host,
)

FINISHED = ("completed", "failed")


def _as(user: str, home: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", user, "--", "/bin/bash", "-c", command],
                          capture_output=True, text=True, timeout=120, cwd=home)


def _wait(c: DevopnessClient, action_id: int) -> Any:
    deadline = time.monotonic() + 180
    while True:
        action = c.actions.get_action(action_id).data
        if action.status in FINISHED or time.monotonic() > deadline:
            return action
        time.sleep(0.3)


def _logs(c: DevopnessClient, action: Any) -> str:
    out = []
    for target in action.targets:
        for step in target.steps:
            log = c.actions.get_action_log(action.id, step.order, target.id).data
            out.append(f"--- {step.name}: {log.step.output or ''}")
    return "\n".join(out)


def test_connect_a_server_and_deploy_an_application_twice(
    live_server: LiveServer, mailbox: Mailbox, sshd_host: SSHHost  # noqa: F811
) -> None:
    access = sign_up_and_log_in(live_server, mailbox, "sdk-real-ops@example.com",
                                "sdk-password-6")
    c = DevopnessClient(
        {"base_url": live_server.url, "api_token": access, "strict_validation_mode": True}
    )
    org = c.organizations.add_organization({"name": "Ops Org", "url_slug": "ops-org"})
    project = c.projects.add_organization_project(org.data.id, {"name": "Ops"})
    env = c.environments.add_project_environment(
        project.data.id, {"type": "production", "name": "prod"}
    ).data.id
    server = c.servers.add_environment_server(env, {
        "hostname": "web-1", "ip_address": "127.0.0.1", "ssh_port": sshd_host.port,
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    }).data

    user, home = create_os_user()
    try:
        # 1. Connect: the user runs the returned command on the machine.
        command = c.servers.get_server_commands(server.id).data.connect_command
        ran = _as(user, home, command)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        actions = c.actions.list_actions_by_resource_type(server.id, "server").data
        provision = _wait(c, actions[0].id)
        assert provision.type == "provision"
        assert provision.status == "completed", _logs(c, provision)
        connected = c.servers.get_server(server.id).data
        assert connected.status == "running"

        # 2. A git repository on the machine, as self-hosted users keep their code.
        repo = home / "shop.git"
        work = home / "shop-src"
        made = _as(user, home, (
            f"set -e; git init -q --bare -b main {repo}; git init -q -b main {work}; "
            f"cd {work}; git config user.email dev@example.com; git config user.name Dev; "
            "echo 'hello v1' > index.html; git add .; git commit -qm v1; "
            f"git remote add origin {repo}; git push -q origin main"
        ))
        assert made.returncode == 0, made.stderr
        application = c.applications.add_environment_application(env, {
            "name": "shop", "repository": str(repo),
            "credential_id": source_credential(c, org.data.id, env),
            "programming_language": "html", "framework": "none", "engine_version": "none",
            "default_branch": "main", "build_command": "cp index.html built.html",
            "linked_resources": [{"resource_type": "server", "resource_id": server.id}],
        }).data

        # 3. Deploy twice, the second after a new commit.
        deployed = []
        for version in ("v1", "v2"):
            if version == "v2":
                pushed = _as(user, home, (
                    f"set -e; cd {work}; echo 'hello v2' > index.html; "
                    "git commit -qam v2; git push -q origin main"
                ))
                assert pushed.returncode == 0, pushed.stderr
            response = c.applications.add_application_deployment(
                application.id, {"type": "deploy", "source_type": "branch", "source_ref": "main"}
            )
            assert response.action_id is not None
            action = _wait(c, response.action_id)
            logs = _logs(c, action)
            assert action.status == "completed", logs
            assert all(step.status == "completed" for step in action.targets[0].steps)
            assert logs.count("--- ") == len(action.targets[0].steps)
            deployed.append(action)

        app_dir = home / "shop"
        # Release folders are named by the deploy's UTC time: their order is the deploys'.
        releases = sorted((app_dir / "releases").iterdir())
        assert [p.name for p in releases] == [
            a.action_data.release_name for a in deployed[-2:]]
        current = (app_dir / "current").resolve()
        assert current == releases[-1].resolve()
        assert (current / "built.html").read_text() == "hello v2\n"
    finally:
        delete_os_user(user)

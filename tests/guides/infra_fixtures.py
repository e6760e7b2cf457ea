"""What the infrastructure guides (servers, services, networks, subnets, network-rules,
files) share: a real machine on loopback to add as an existing server, and waiting for the
actions the guides tell the user to wait for.

The machine is an unprivileged OS user on the loopback sshd of `tests/remote` (one per
module that needs it): the guide server's actions log in to it over SSH as they would to
any server. The guides have the user run the connect command as root; here it runs as that
user, because the machine is the one running the suite, where a root login would let the
"stop" and "restart" guides power it off.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.remote.conftest import SSHHost, create_os_user, delete_os_user, sshd_host

__all__ = [
    "Connected",
    "Machine",
    "connect_existing",
    "connected",
    "machine",
    "sshd_host",
    "step_logs",
    "wait_action",
]

FINISHED = ("completed", "failed")


@dataclass
class Machine:
    """A loopback server: an OS user reachable over SSH on `port`."""

    user: str
    home: Path
    port: int

    def sh(self, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A shell on the machine as its user (what the user does after logging in)."""
        result = subprocess.run(
            ["runuser", "-u", self.user, "--", "/bin/bash", "-c", command],
            capture_output=True, text=True, cwd=self.home, timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{command!r} failed ({result.returncode}): "
                                 f"{result.stdout}{result.stderr}")
        return result


@pytest.fixture(scope="module")
def machine(sshd_host: SSHHost) -> Iterator[Machine]:
    user, home = create_os_user()
    try:
        yield Machine(user, home, sshd_host.port)
    finally:
        delete_os_user(user)


def wait_action(guide: Any, action_id: int | None, seconds: float = 120) -> Any:
    """The action once it is completed or failed (as the user waits on its page)."""
    assert action_id is not None
    deadline = time.monotonic() + seconds
    action = guide.c.actions.get_action(action_id).data
    while action.status not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.2)
        action = guide.c.actions.get_action(action_id).data
    assert action.status in FINISHED, f"action {action_id} still {action.status}"
    return action


def step_logs(guide: Any, action: Any) -> str:
    """Every step's log, as the LOGS button of each step shows it."""
    out = []
    for target in action.targets:
        for step in target.steps:
            log = guide.c.actions.get_action_log(action.id, step.order, target.id).data
            out.append(f"--- {step.name} ({step.status}): {log.step.output or ''}")
    return "\n".join(out)


def connect_existing(guide: Any, environment_id: int, machine: Machine,
                     hostname: str = "web-1") -> tuple[Any, Any]:
    """servers/add-existing-server: add the server by address and SSH port, run the
    connect command on it, and wait for the provision action. The server and that action."""
    server = guide.c.servers.add_environment_server(environment_id, {
        "hostname": hostname, "ip_address": "127.0.0.1", "ssh_port": machine.port,
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    }).data
    command = guide.c.servers.get_server_commands(server.id).data.connect_command
    ran = machine.sh(command, check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Server successfully connected" in ran.stdout
    actions = guide.c.actions.list_actions_by_resource_type(server.id, "server").data
    provision = max((a for a in actions if a.type == "provision"), key=lambda a: a.id)
    return server, wait_action(guide, provision.id)


@dataclass
class Connected:
    """An environment with an existing server added and connected (the prerequisite of the
    guides that act on a server): its workspace, the server and the machine behind it."""

    where: Any
    server: Any
    machine: Machine


@pytest.fixture(scope="session")
def connected(guide_server: Any, sshd_host: SSHHost) -> Iterator[Connected]:
    """One connected server for the guides that read it or run harmless operations on it
    (get-status, start, provision logs, ssh): connecting one takes seconds."""
    from tests.guides.conftest import Guide  # the conftest imports this module

    guide = Guide(guide_server, guide_server.token)
    user, home = create_os_user()
    try:
        on = Machine(user, home, sshd_host.port)
        where = guide.workspace()
        server, provision = connect_existing(guide, where.env.id, on)
        assert provision.status == "completed", step_logs(guide, provision)
        yield Connected(where, guide.c.servers.get_server(server.id).data, on)
    finally:
        guide.http.close()
        delete_os_user(user)

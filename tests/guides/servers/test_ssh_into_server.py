"""servers/ssh-into-server: copy the server's IP address, `ssh <user>@<ip>`, run `whoami`
and `ls`, then `exit`. The user's own key reaches the server through ssh-keys/add-ssh-key
(the guide's answer to "Connection refused"), deployed to the server.

The guide logs in as `devopness`, the user a connect command run as root creates; here the
connect command ran as the machine's own unprivileged user (see README), who is logged in as."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import asyncssh
import pytest

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Connected, step_logs, wait_action


def test_ssh_into_server(guide: Guide, connected: Connected, tmp_path: Path) -> None:
    if shutil.which("ssh") is None:
        pytest.skip("no OpenSSH client (apt-get install openssh-client)")
    # The user's laptop key, added and deployed to the server.
    laptop = asyncssh.generate_private_key("ssh-ed25519")
    identity = tmp_path / "id_ed25519"
    identity.write_bytes(laptop.export_private_key())
    identity.chmod(0o600)
    server = connected.server
    key = guide.c.ssh_keys.add_environment_ssh_key(connected.where.env.id, {
        "name": "laptop", "public_key": laptop.export_public_key("openssh").decode().strip(),
        "linked_resources": [{"resource_type": "server", "resource_id": server.id}],
    }).data
    deployed = wait_action(guide, guide.c.ssh_keys.deploy_ssh_key(
        key.id, {"servers": [server.id]}).action_id)
    assert deployed.status == "completed", step_logs(guide, deployed)

    # 1. The IP address, from the list of servers.
    listed = guide.c.servers.list_environment_servers(connected.where.env.id).data
    address = next(s for s in listed if s.id == server.id).ip_address
    # 2-4. ssh, whoami and ls, exit.
    session = subprocess.run(
        ["ssh", "-i", str(identity), "-p", str(server.ssh_port),
         "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={tmp_path / 'known'}",
         "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         f"{connected.machine.user}@{address}"],
        input="whoami\nls -a\nexit\n", capture_output=True, text=True, timeout=30,
    )
    assert session.returncode == 0, session.stderr
    assert session.stdout.splitlines()[0] == connected.machine.user
    assert ".ssh" in session.stdout

"""servers/add-existing-server: the server's public IP and SSH port, then the connect
command run on the machine; once it is connected, it is provisioned and in the environment.

The machine is a loopback sshd user (tests/guides/infra_fixtures.py), and the connect
command runs as that user rather than root (see README)."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Machine, step_logs, wait_action


def test_add_existing_server(guide: Guide, machine: Machine) -> None:
    where = guide.workspace()
    # VPS/Self Hosted, the public IP address and the SSH port.
    server = guide.c.servers.add_environment_server(where.env.id, {
        "hostname": "web-1", "ip_address": "127.0.0.1", "ssh_port": machine.port,
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    }).data
    assert (server.ip_address, server.ssh_port) == ("127.0.0.1", machine.port)
    assert server.status != "running"  # not connected yet

    # The Connect page: the command to connect, pasted into a shell on the server.
    command = guide.c.servers.get_server_commands(server.id).data.connect_command
    ran = machine.sh(command, check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # "A message will be displayed in the terminal window ..."
    assert "Server successfully connected" in ran.stdout

    # "... once the server is displayed as Connected, it's been added to the environment."
    [provision] = guide.c.actions.list_actions_by_resource_type(server.id, "server").data
    provision = wait_action(guide, provision.id)
    assert provision.status == "completed", step_logs(guide, provision)
    connected = guide.c.servers.get_server(server.id).data
    assert connected.status == "running"
    # Actions log in as the user who ran the command (`ssh_user`, beyond the reference).
    assert guide.http.get(f"/servers/{server.id}").json()["ssh_user"] == machine.user
    assert [s.id for s in guide.c.servers.list_environment_servers(where.env.id).data] == [
        server.id
    ]
    # The provision action logged in and set the machine up.
    logs = step_logs(guide, provision)
    assert f"Connected as {machine.user}" in logs and "server provisioned" in logs


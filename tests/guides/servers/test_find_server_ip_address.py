"""servers/find-server-ip-address: in the list of servers, find the server and copy its IP
address, "a number separated by dots"; it is the address the server is reached at."""

from __future__ import annotations

import re
import socket

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Connected


def test_find_server_ip_address(guide: Guide, connected: Connected) -> None:
    listed = guide.c.servers.list_environment_servers(connected.where.env.id).data
    server = next(s for s in listed if s.name == connected.server.name)
    assert re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", server.ip_address)
    # The copied address reaches the server's SSH port.
    with socket.create_connection((server.ip_address, server.ssh_port), timeout=5) as sock:
        assert sock.recv(64).startswith(b"SSH-2.0-")

"""servers/list-servers: the Servers page lists each server with its provider, region, IP
address, port and status; clicking one shows its details."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_list_servers(guide: Guide) -> None:
    where = guide.workspace()
    # "If there are no servers, create one."
    assert guide.c.servers.list_environment_servers(where.env.id).data == []
    first, second = guide.loopback_server(where.env.id), guide.loopback_server(where.env.id)

    listed = guide.c.servers.list_environment_servers(where.env.id).data
    assert sorted(s.id for s in listed) == sorted([first.id, second.id])
    row = next(s for s in listed if s.id == first.id)
    assert (row.provider_name, row.ip_address, row.ssh_port, row.status) == (
        "self-hosted", "127.0.0.1", first.ssh_port, first.status)
    assert hasattr(row, "region")

    details = guide.c.servers.get_server(first.id).data
    assert (details.name, details.ip_address, details.ssh_port) == (
        first.name, "127.0.0.1", first.ssh_port)

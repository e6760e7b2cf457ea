"""servers/remove-selfhosted-server: REMOVE SERVER, wait for `server:remove`, then the
server is gone. Its data stays on the host: only the key Devopness logged in with leaves
authorized_keys.

This server removes the record when the action ends, so "get the status" answers 404
rather than "deleted" (see README)."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Machine, connect_existing, step_logs, wait_action


def test_remove_selfhosted_server(guide: Guide, machine: Machine) -> None:
    where = guide.workspace()
    server, _ = connect_existing(guide, where.env.id, machine)
    machine.sh("mkdir -p data && echo kept > data/file")

    removed = guide.c.servers.delete_server(server.id)
    action = wait_action(guide, removed.action_id)
    assert (action.type, action.status) == ("delete", "completed"), step_logs(guide, action)

    with pytest.raises(DevopnessApiError) as gone:
        guide.c.servers.get_status_server(server.id)
    assert gone.value.status_code == 404
    assert guide.c.servers.list_environment_servers(where.env.id).data == []
    # "Removing a self hosted server will not delete its data from the host."
    assert machine.sh("cat data/file").stdout == "kept\n"
    assert (machine.home / ".ssh/authorized_keys").read_text().strip() == ""

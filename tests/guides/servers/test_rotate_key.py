"""servers/rotate-key: ACTIONS > Rotate Key, wait for `server:rotate-key`. The machine
credential Devopness logs in with is replaced on the server: the new key logs in, the old
one no longer does."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Machine, connect_existing, step_logs, wait_action


def _keys(machine: Machine) -> set[str]:
    lines = (machine.home / ".ssh/authorized_keys").read_text().splitlines()
    return {" ".join(line.split()[:2]) for line in lines if line.strip()}


def test_rotate_key(guide: Guide, machine: Machine) -> None:
    where = guide.workspace()
    server, _ = connect_existing(guide, where.env.id, machine)
    before = _keys(machine)

    started = guide.c.servers.rotate_key_server(server.id)
    action = wait_action(guide, started.action_id)
    assert (action.type, action.status) == ("rotate_key", "completed"), step_logs(guide, action)

    after = _keys(machine)
    assert len(after) == 1 and after.isdisjoint(before)  # replaced, the old key out
    # Devopness keeps logging in, with the new key.
    status = wait_action(guide, guide.c.servers.get_status_server(server.id).action_id)
    assert status.status == "completed", step_logs(guide, status)

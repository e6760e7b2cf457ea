"""networks/remove-network: the network's details view, REMOVE, REMOVE NETWORK; it is gone
from the list of networks, and from the provider (moto standing in for AWS)."""

from __future__ import annotations

import time
from typing import Any

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import step_logs, wait_action
from tests.guides.networks.aws import add_network, aws_credential, vpc_console, vpc_ids

__all__ = ["vpc_console"]


def test_remove_network(guide: Guide, vpc_console: Any) -> None:
    where = guide.workspace()
    credential = aws_credential(guide, where)
    before = vpc_ids(vpc_console)
    network, _ = add_network(guide, where, credential, "10.109.0.0/16")
    created = vpc_ids(vpc_console) - before
    assert len(created) == 1

    removed = guide.c.networks.delete_network(network.id)
    if removed.action_id is not None:
        action = wait_action(guide, removed.action_id)
        assert action.status == "completed", step_logs(guide, action)
    deadline = time.monotonic() + 10
    while guide.c.networks.list_environment_networks(where.env.id).data and (
            time.monotonic() < deadline):
        time.sleep(0.2)
    assert guide.c.networks.list_environment_networks(where.env.id).data == []
    assert created.isdisjoint(vpc_ids(vpc_console))

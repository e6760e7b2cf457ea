"""subnets/remove-subnet: the network's SUBNETS, the subnet's details view, REMOVE, REMOVE
SUBNET; it is gone from the list of subnets, and from the provider (moto for AWS)."""

from __future__ import annotations

import time
from typing import Any

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import step_logs, wait_action
from tests.guides.networks.aws import add_network, aws_credential, subnet_ids, vpc_console

__all__ = ["vpc_console"]


def test_remove_subnet(guide: Guide, vpc_console: Any) -> None:
    where = guide.workspace()
    credential = aws_credential(guide, where)
    network, _ = add_network(guide, where, credential, "10.110.0.0/16")
    before = subnet_ids(vpc_console)
    response = guide.c.subnets.add_network_subnet(network.id, {
        "name": "Private Subnet B", "type": "public", "credential_id": credential.id,
        "provision_input": {"settings": {"zone": "us-east-1b",
                                         "cidr_block": "10.110.16.0/20"}},
    })
    assert wait_action(guide, response.action_id).status == "completed"
    created = subnet_ids(vpc_console) - before
    assert len(created) == 1

    removed = guide.c.subnets.delete_subnet(response.data.id)
    if removed.action_id is not None:
        action = wait_action(guide, removed.action_id)
        assert action.status == "completed", step_logs(guide, action)
    deadline = time.monotonic() + 10
    while guide.c.subnets.list_network_subnets(network.id).data and (
            time.monotonic() < deadline):
        time.sleep(0.2)
    assert guide.c.subnets.list_network_subnets(network.id).data == []
    assert created.isdisjoint(subnet_ids(vpc_console))

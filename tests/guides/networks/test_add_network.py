"""networks/add-network: ADD NETWORK, a cloud provider and credential, the prompts,
CONFIRM, and wait for `network:provision`. The network is created at the provider (AWS,
with moto standing in for the account): a VPC with the CIDR block chosen."""

from __future__ import annotations

from typing import Any

from tests.guides.conftest import Guide
from tests.guides.networks.aws import add_network, aws_credential, vpc_console

__all__ = ["vpc_console"]


def test_add_network(guide: Guide, vpc_console: Any) -> None:
    where = guide.workspace()
    network, _ = add_network(guide, where, aws_credential(guide, where), "10.107.0.0/16")

    listed = guide.c.networks.list_environment_networks(where.env.id).data
    assert [n.id for n in listed] == [network.id]
    # In the VPC console of the region: the network, with the CIDR block chosen.
    vpcs = vpc_console.describe_vpcs(
        Filters=[{"Name": "cidr", "Values": ["10.107.0.0/16"]}])["Vpcs"]
    assert len(vpcs) == 1

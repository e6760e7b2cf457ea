"""subnets/add-subnet: the network's Subnets tab, MANAGE, a name ("Public Subnet A"), a
type, a CIDR block ("10.108.0.0/20"), CONFIRM; an action provisions the subnet at the
cloud provider (AWS, moto standing in for the account)."""

from __future__ import annotations

from typing import Any

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import step_logs, wait_action
from tests.guides.networks.aws import add_network, aws_credential, vpc_console

__all__ = ["vpc_console"]


def test_add_subnet(guide: Guide, vpc_console: Any) -> None:
    where = guide.workspace()
    credential = aws_credential(guide, where)
    network, _ = add_network(guide, where, credential)

    response = guide.c.subnets.add_network_subnet(network.id, {
        "name": "Public Subnet A", "type": "public", "credential_id": credential.id,
        "provision_input": {"settings": {"zone": "us-east-1a",
                                         "cidr_block": "10.108.0.0/20"}},
    })
    subnet = response.data
    assert (subnet.name, subnet.type) == ("Public Subnet A", "public")
    # "After the Subnet is created an action will be automatically started to provision
    # the Subnet on the chosen cloud provider."
    assert response.action_id is not None
    action = wait_action(guide, response.action_id)
    assert (action.type, action.resource.type, action.resource.id) == (
        "provision", "subnet", subnet.id)
    assert action.status == "completed", step_logs(guide, action)

    assert [s.id for s in guide.c.subnets.list_network_subnets(network.id).data] == [subnet.id]
    at_aws = vpc_console.describe_subnets(
        Filters=[{"Name": "cidr-block", "Values": ["10.108.0.0/20"]}])["Subnets"]
    assert len(at_aws) == 1

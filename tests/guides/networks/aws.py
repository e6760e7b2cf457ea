"""A network on AWS, as networks/add-network has the user add one: moto stands in for the
account, and what the guides' actions create there is read back with boto3, as the user
would find it in the VPC console."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.guides.conftest import Guide, Workspace, unique
from tests.guides.infra_fixtures import step_logs, wait_action
from tests.guides.servers.cloud import CREDENTIALS

REGION = "us-east-1"


@pytest.fixture
def vpc_console(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    # moto's own images cost seconds in every region it opens; the guides use none.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    return boto3.client("ec2", region_name=REGION, endpoint_url=moto_url,
                        aws_access_key_id="AKIAIOSFODNN7GUIDES1",
                        aws_secret_access_key="console")


def aws_credential(guide: Guide, where: Workspace) -> Any:
    provider, values = CREDENTIALS["aws-ec2"]
    return guide.credential(where, provider, "cloud_provider", values)


def add_network(guide: Guide, where: Workspace, credential: Any,
                cidr_block: str = "10.108.0.0/16") -> tuple[Any, Any]:
    """Cloud provider, credential, the prompts (name, region, CIDR), CONFIRM, and the
    `network:provision` action once finished."""
    response = guide.c.networks.add_environment_network(where.env.id, {
        "name": unique("vpc"), "credential_id": credential.id,
        "provision_input": {"cloud_service_code": "aws-ec2",
                            "settings": {"region": REGION, "cidr_block": cidr_block}},
    })
    network = response.data
    action = wait_action(guide, response.action_id)
    assert (action.type, action.resource.type, action.resource.id) == (
        "provision", "network", network.id)
    assert action.status == "completed", step_logs(guide, action)
    return guide.c.networks.get_network(network.id).data, action


def vpc_ids(console: Any) -> set[str]:
    return {v["VpcId"] for v in console.describe_vpcs()["Vpcs"]}


def subnet_ids(console: Any) -> set[str]:
    return {s["SubnetId"] for s in console.describe_subnets()["Subnets"]}

"""servers/add-aws-server: Amazon Web Services, a credential, the server's settings, CONFIRM,
then the `server:provision` action; the EC2 instance carries the server's name.

Up to the API boundary: moto stands in for the AWS account. The instance is created there
and named after the server (what the guide has the user look for in the EC2 console); moto's
instance runs no SSH, so the provision action ends failed where it would log in, and what
provisioning does on the machine is checked in tests/remote (test_cloud_servers*)."""

from __future__ import annotations

import boto3

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import step_logs
from tests.guides.servers.cloud import aws_server, ec2

__all__ = ["ec2"]


def test_add_aws_server(guide: Guide, ec2: str, moto_url: str) -> None:
    server, provision = aws_server(guide)
    assert server.provider_name == "aws"
    [create, *_] = provision.targets[0].steps
    assert create.status == "completed", step_logs(guide, provision)

    # The EC2 console, in the server's region: an instance named after the server.
    console = boto3.client("ec2", region_name=ec2, endpoint_url=moto_url,
                           aws_access_key_id="AKIAIOSFODNN7GUIDES1",
                           aws_secret_access_key="console")
    names = [
        {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get("Name")
        for reservation in console.describe_instances()["Reservations"]
        for instance in reservation["Instances"]
    ]
    assert server.name in names

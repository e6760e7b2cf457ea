"""servers/delete-cloudprovider-server: REMOVE, wait for `server:remove`, then get the
status: "deleted". The instance and its data are gone at the provider (moto here).

This server removes the record once the provider confirms the instance is destroyed, so
"get the status" answers 404 rather than "deleted" (see README)."""

from __future__ import annotations

import boto3
import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import step_logs, wait_action
from tests.guides.servers.cloud import aws_server, ec2

__all__ = ["ec2"]


def test_delete_cloudprovider_server(guide: Guide, ec2: str, moto_url: str) -> None:
    server, _ = aws_server(guide)
    removed = guide.c.servers.delete_server(server.id)
    action = wait_action(guide, removed.action_id)
    assert (action.type, action.resource.id) == ("delete", server.id)
    assert action.status == "completed", step_logs(guide, action)
    assert "destroyed" in step_logs(guide, action)

    with pytest.raises(DevopnessApiError) as gone:
        guide.c.servers.get_status_server(server.id)
    assert gone.value.status_code == 404
    # At AWS: the instance named after the server is terminated.
    console = boto3.client("ec2", region_name=ec2, endpoint_url=moto_url,
                           aws_access_key_id="AKIAIOSFODNN7GUIDES1",
                           aws_secret_access_key="console")
    states = [
        instance["State"]["Name"]
        for reservation in console.describe_instances()["Reservations"]
        for instance in reservation["Instances"]
        if {"Key": "Name", "Value": server.name} in instance.get("Tags", [])
    ]
    assert states == ["terminated"]

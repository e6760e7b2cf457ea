"""What the built-in steps of resources that run on servers are: each operation's default
pipeline (step name, script, time limit) as created with the resource, and the failure a
step gives when its resource was deleted before it ran."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.models import Pipeline, PipelineStep
from tests import resource_factories as f

STEPS: dict[str, tuple[str, dict[str, Any], dict[str, tuple[str, str, int]]]] = {
    "cronjob": ("cron-jobs", {
        "name": "nightly", "command": "backup --all", "pattern": "30 2 * * *",
        "run_as_user": "root",
    }, {
        "deploy": ("Install the cron job in the crontab", "cronjob/deploy", 120),
        "remove": ("Remove the cron job from the crontab", "cronjob/remove", 120),
    }),
    "daemon": ("daemons", {
        "name": "queue", "command": "php artisan queue:work", "process_count": 2,
        "working_directory": "/srv/app", "run_as_user": "www-data",
    }, {
        "deploy": ("Install and start the daemon", "daemon/deploy", 300),
        "get_status": ("Count the daemon's running processes", "daemon/get-status", 60),
        "remove": ("Stop and remove the daemon", "daemon/remove", 120),
        "restart": ("Restart the daemon", "daemon/restart", 120),
        "start": ("Start the daemon", "daemon/start", 120),
        "stop": ("Stop the daemon", "daemon/stop", 120),
    }),
    "service": ("services", {"type": "mysql", "version": "8.0"}, {
        "deploy": ("Install and configure the service", "service/deploy", 1800),
        "get_status": ("Check the service's state", "service/get-status", 60),
        "reload": ("Reload the service's configuration", "service/reload", 300),
        "restart": ("Restart the service", "service/restart", 300),
        "start": ("Start the service", "service/start", 300),
        "stop": ("Stop the service", "service/stop", 300),
    }),
    "network-rule": ("network-rules", {
        "name": "web", "direction": "inbound", "protocol": "tcp", "port": 443,
        "cidr_block": "0.0.0.0/0",
    }, {
        "deploy": ("Apply the firewall rule", "network-rule/deploy", 120),
        "remove": ("Remove the firewall rule", "network-rule/remove", 120),
    }),
    "ssh-key": ("ssh-keys", {
        "name": "laptop",
        "public_key": f"{f.ssh_keypair()[0]} me@laptop",
    }, {
        "deploy": ("Authorize the key in authorized_keys", "ssh-key/deploy", 60),
        "remove": ("Remove the key from authorized_keys", "ssh-key/remove", 60),
    }),
}


@pytest.mark.parametrize("resource_type", list(STEPS))
async def test_each_operation_runs_its_script(
    resource_type: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    path, body, expected = STEPS[resource_type]
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/{path}", json=body,
                          headers=t.headers)
    assert r.status_code == 201, r.text
    rows = await db.execute(
        select(Pipeline.operation, PipelineStep.name, PipelineStep.command,
               PipelineStep.timeout_seconds)
        .join(PipelineStep, PipelineStep.pipeline_id == Pipeline.id)
        .where(Pipeline.resource_type == resource_type, Pipeline.resource_id == r.json()["id"])
        .order_by(Pipeline.operation, PipelineStep.trigger_order)
    )
    found = {op: (name, command, timeout) for op, name, command, timeout in rows}
    assert found == {
        op: (name, f"devopness-script {script}", timeout)
        for op, (name, script, timeout) in expected.items()
    }


@pytest.mark.parametrize(
    ("resource_type", "label"),
    [("cronjob", "Cron job"), ("daemon", "Daemon"), ("service", "Service"),
     ("network-rule", "Network rule"), ("ssh-key", "SSH key")],
)
async def test_a_step_of_a_deleted_resource_says_so(
    resource_type: str, label: str, db: AsyncSession, app: Any
) -> None:
    server = await f.create_server(db, await f.create_tenant(db))
    request = builtins.RunRequest(1, resource_type, 987654, "deploy", server.id)
    with pytest.raises(builtins.ContextUnavailable) as refused:
        await builtins.build_context(db, request)
    assert str(refused.value) == f"{label} 987654 no longer exists."

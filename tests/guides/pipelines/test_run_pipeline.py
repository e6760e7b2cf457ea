"""pipelines/run-pipeline: a network rule's deploy pipeline, run on its linked server.

Checked up to the action: a network-rule deploy on the linked server. The rule reaching
the machine's firewall needs a reachable server (tests/remote covers the SSH side); here
the server is a loopback port where nothing listens, so the action ends failed at connect.
"""

from __future__ import annotations

import time

from tests.guides.conftest import Guide


def test_run_pipeline(guide: Guide) -> None:
    where = guide.workspace()
    server = guide.loopback_server(where.env.id)
    rule = guide.c.network_rules.add_environment_network_rule(where.env.id, {
        "name": "https", "direction": "inbound", "protocol": "tcp", "port": 443,
        "cidr_block": "0.0.0.0/0",
        "linked_resources": [{"resource_type": "server", "resource_id": server.id}],
    }).data
    pipelines = guide.c.pipelines.list_pipelines_by_resource_type(rule.id, "network-rule").data
    deploy = next(p for p in pipelines if p.operation == "deploy")

    # DEPLOY: the pipeline's operation, run with its defaults.
    started = guide.c.network_rules.deploy_network_rule(rule.id, {"pipeline_id": deploy.id})
    assert started.status in (200, 202, 204)
    action_id = started.action_id
    assert action_id is not None

    action = guide.c.actions.get_action(action_id).data
    assert (action.type, action.resource.type, action.resource.id) == (
        "deploy", "network-rule", rule.id
    )
    assert action.pipeline_id == deploy.id
    assert [t.resource_id for t in action.targets] == [server.id]
    deadline = time.monotonic() + 30
    while action.status not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        action = guide.c.actions.get_action(action_id).data
    assert action.status == "failed"

"""network-rules/add-network-rule: ADD NETWORK RULE, the prompts (name, direction, protocol,
port, source addresses), CONFIRM; the rule is in the list. "A new deployment is required":
pipelines/run-pipeline, the rule's deploy pipeline on the server.

Up to the machine's firewall: the connected server's user is unprivileged (see README),
so the deploy action runs on the server and ends failed, saying it needs root."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.infra_fixtures import Connected, step_logs, wait_action


def test_add_network_rule(guide: Guide, connected: Connected) -> None:
    env, server = connected.where.env, connected.server
    rule = guide.c.network_rules.add_environment_network_rule(env.id, {
        "name": "web traffic", "direction": "inbound", "protocol": "tcp",
        "cidr_block": "0.0.0.0/0", "port": 8080,
    }).data
    listed = guide.c.network_rules.list_environment_network_rules(env.id).data
    assert rule.id in [r.id for r in listed]
    shown = next(r for r in listed if r.id == rule.id)
    assert (shown.name, shown.direction, shown.protocol, shown.cidr_block, shown.port) == (
        "web traffic", "inbound", "tcp", "0.0.0.0/0", 8080)

    pipelines = guide.c.pipelines.list_pipelines_by_resource_type(rule.id, "network-rule").data
    deploy = next(p for p in pipelines if p.operation == "deploy")
    started = guide.c.actions.add_pipeline_action(deploy.id, {"servers": [server.id]}).data
    action = wait_action(guide, started.id)
    assert (action.type, action.resource.type, action.resource.id) == (
        "deploy", "network-rule", rule.id)
    assert [t.resource_id for t in action.targets] == [server.id]
    # The firewall is root's: the machine's unprivileged user cannot apply the rule, and
    # the action says so (applied as root in tests/remote/test_network_rules.py).
    assert action.status == "failed"
    assert "needs root" in step_logs(guide, action)

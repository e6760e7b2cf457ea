"""Issue 5 through the official SDK: a credential, a network with two subnets, a resource
link, and an incoming hook called over plain HTTP whose request is then listed."""

from __future__ import annotations

import httpx
from devopness import DevopnessClient

from tests.conftest import Mailbox, free_port
from tests.e2e.conftest import LiveServer, sign_up_and_log_in


def test_credentials_networks_links_and_hooks(live_server: LiveServer, mailbox: Mailbox) -> None:
    access = sign_up_and_log_in(live_server, mailbox, "infra-e2e@example.com", "infra-pass-1")
    c = DevopnessClient({"base_url": live_server.url, "api_token": access,
                         "strict_validation_mode": True})
    org = c.organizations.add_organization({"name": "Infra Org", "url_slug": "infra-org"}).data
    project = c.projects.add_organization_project(org.id, {"name": "Platform"}).data
    env = c.environments.add_project_environment(
        project.id, {"type": "production", "name": "prod"}
    ).data

    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    credential = c.credentials.add_organization_credential(org.id, {
        "name": "aws production", "provider_code": "aws", "provider_type": "cloud_provider",
        "active": True,
        "settings": {"credential": {"access_key_id": "AKIAIOSFODNN7EXAMPLE",
                                    "secret_access_key": secret}},
    }).data
    c.credentials.link_credential_to_environment(credential.id, env.id)
    listed = c.credentials.list_environment_credentials(env.id)
    assert [x.id for x in listed.data] == [credential.id]
    assert secret not in str(c.credentials.get_credential(credential.id).data.to_dict())

    network = c.networks.add_environment_network(env.id, {
        "name": "main-vpc", "credential_id": credential.id,
        "provision_input": {"cloud_service_code": "aws-ec2",
                            "settings": {"region": "us-east-1", "cidr_block": "10.0.0.0/16"}},
    }).data
    for name, cidr, zone in (("public-a", "10.0.1.0/24", "us-east-1a"),
                             ("public-b", "10.0.2.0/24", "us-east-1b")):
        c.subnets.add_network_subnet(network.id, {
            "name": name, "type": "public", "credential_id": credential.id,
            "provision_input": {"settings": {"zone": zone, "cidr_block": cidr}},
        })
    subnets = c.subnets.list_network_subnets(network.id).data
    assert sorted(s.name for s in subnets) == ["public-a", "public-b"]

    server = c.servers.add_environment_server(env.id, {
        "hostname": "web-1", "ip_address": "127.0.0.1", "ssh_port": free_port(),
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    }).data
    # The SDK orders parameters alphabetically: child_id, child_type, resource_id, type.
    c.resource_links.link_resource_link_to_resource_link(server.id, "server", subnets[0].id,
                                                        "subnet")
    links = c.resource_links.list_resource_links_by_resource_type(subnets[0].id, "subnet").data
    # The subnet's links: its network (kept by the server) and the server just linked.
    assert sorted((link.resource_type, link.resource_id) for link in links) == [
        ("network", network.id), ("server", server.id)
    ]

    # The server's default pipelines exist from its creation; hook its get-status one.
    pipelines = c.pipelines.list_pipelines_by_resource_type(server.id, "server").data
    status = next(p for p in pipelines if p.operation == "get_status")
    hook = c.hooks.add_pipeline_hook("incoming", status.id, {"name": "on push"}).data
    r = httpx.post(hook.url, json={"ref": "refs/heads/main"})
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Devopness-Action-Id"]) > 0
    requests = c.hooks.list_hook_requests_by_hook_type(hook.id, "incoming").data
    assert len(requests) == 1
    assert requests[0].action_id == int(r.headers["X-Devopness-Action-Id"])

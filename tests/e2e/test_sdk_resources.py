"""The official SDK (strict response validation) managing environment resources on a real
server process: one of each type created, read back, updated, listed and deleted, and a
list of 45 paged by 20."""

from __future__ import annotations

import time
from typing import Any

import pytest
from devopness import DevopnessClient
from devopness.core.api_error import DevopnessApiError

from tests.conftest import Mailbox, free_port
from tests.e2e.conftest import LiveServer, sign_up_and_log_in, source_credential
from tests.resource_factories import ssh_keypair
from tests.resources_common.test_validators import make_certificate


def _client(server: LiveServer, token: str) -> DevopnessClient:
    return DevopnessClient(
        {"base_url": server.url, "api_token": token, "strict_validation_mode": True}
    )


def test_environment_resources_through_the_sdk(live_server: LiveServer, mailbox: Mailbox
                                               ) -> None:
    access = sign_up_and_log_in(live_server, mailbox, "sdk-resources@example.com",
                                "sdk-password-2")
    c = _client(live_server, access)
    org = c.organizations.add_organization({"name": "Resources Org", "url_slug": "res-org"})
    project = c.projects.add_organization_project(org.data.id, {"name": "Shop"})
    env = c.environments.add_project_environment(
        project.data.id, {"type": "production", "name": "prod"}
    ).data.id

    server = c.servers.add_environment_server(env, {
        "hostname": "web-1", "ip_address": "127.0.0.1", "ssh_port": free_port(),
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    }).data
    assert c.servers.get_server(server.id).data.hostname == "web-1"
    c.servers.update_server(server.id, {"id": server.id, "ssh_port": 2222})
    assert c.servers.get_server(server.id).data.ssh_port == 2222
    assert "authorized_keys" in c.servers.get_server_commands(server.id).data.connect_command
    on_server = [{"resource_type": "server", "resource_id": server.id}]

    application = c.applications.add_environment_application(env, {
        "name": "shop", "repository": "acme/shop",
        "credential_id": source_credential(c, org.data.id, env),
        "programming_language": "python", "framework": "django", "engine_version": "3.12",
        "default_branch": "main", "linked_resources": on_server,
    }).data
    assert c.applications.get_application(application.id).data.servers[0].id == server.id
    c.applications.update_application(application.id, {
        "id": application.id, "name": "shop-2", "programming_language": "python",
        "framework": "flask", "engine_version": "3.12", "default_branch": "main",
    })
    assert c.applications.get_application(application.id).data.framework == "flask"

    service = c.services.add_environment_service(
        env, {"type": "redis", "version": "7", "linked_resources": on_server}
    ).data
    c.services.update_service(service.id, {"id": service.id})
    assert c.services.get_service(service.id).data.type == "redis"

    daemon = c.daemons.add_environment_daemon(env, {
        "name": "worker", "command": "python worker.py", "process_count": 2,
        "working_directory": "current", "run_as_user": "www-data",
        "application_id": application.id, "linked_resources": on_server,
    }).data
    c.daemons.update_daemon(daemon.id, {
        "id": daemon.id, "name": "worker", "command": "python worker.py", "process_count": 4,
        "working_directory": None, "run_as_user": "www-data",
    })
    assert c.daemons.get_daemon(daemon.id).data.process_count == 4

    cron_job = c.cron_jobs.add_environment_cron_job(env, {
        "name": "nightly", "command": "backup --all", "pattern": "0 0 * * *",
        "run_as_user": "root", "linked_resources": on_server,
    }).data
    assert c.cron_jobs.get_cron_job(cron_job.id).data.pattern_human_readable == "Daily"
    c.cron_jobs.update_cron_job(cron_job.id, {
        "id": cron_job.id, "name": "hourly", "command": "backup --all",
        "pattern": "0 * * * *", "run_as_user": "root",
    })
    assert c.cron_jobs.get_cron_job(cron_job.id).data.pattern_human_readable == "Hourly"

    host = c.virtual_hosts.add_environment_virtual_host(env, {
        "type": "name-based", "name": "shop.example.com", "root_directory": "/var/www",
        "linked_resources": on_server,
    }).data
    c.virtual_hosts.update_virtual_host(host.id, {"id": host.id, "name": "shop.example.com",
                                                  "root_directory": "/srv/www"})
    assert c.virtual_hosts.get_virtual_host(host.id).data.root_directory == "/srv/www"

    certificate_pem, key_pem = make_certificate("shop.example.com")
    certificate = c.ssl_certificates.add_environment_ssl_certificate(env, {
        "virtual_host_id": host.id, "issuer": "custom", "custom_certificate": certificate_pem,
        "custom_private_key": key_pem,
    }).data
    assert c.ssl_certificates.get_ssl_certificate(certificate.id).data.active is True

    rule = c.network_rules.add_environment_network_rule(env, {
        "name": "https", "direction": "inbound", "protocol": "tcp", "port": 443,
        "cidr_block": "0.0.0.0/0", "linked_resources": on_server,
    }).data
    c.network_rules.update_network_rule(rule.id, {"id": rule.id, "name": "https in",
                                                  "direction": "inbound",
                                                  "cidr_block": "0.0.0.0/0"})
    assert c.network_rules.get_network_rule(rule.id).data.name == "https in"

    public, _ = ssh_keypair()
    key = c.ssh_keys.add_environment_ssh_key(
        env, {"name": "laptop", "public_key": public, "linked_resources": on_server}
    ).data
    c.ssh_keys.update_ssh_key(key.id, {"id": key.id, "name": "desk"})
    assert c.ssh_keys.get_ssh_key(key.id).data.name == "desk"

    variable = c.variables.add_variable(application.id, "application", {
        "key": "SECRET", "value": "hunter2", "target": "os-env-var", "type": "variable",
        "hidden": True,
    }).data
    assert c.variables.get_variable(variable.id).data.value is None
    c.variables.update_variable(variable.id, {
        "id": variable.id, "key": "SECRET", "value": "hunter3", "target": "os-env-var",
        "type": "variable", "hidden": False,
    })
    assert c.variables.get_variable(variable.id).data.value == "hunter3"

    # Operations start real actions. Nothing listens on this server's SSH port (a free
    # loopback port), so the action ends failed with the connection error, never "completed".
    started = c.daemons.restart_daemon(daemon.id, {"servers": [server.id]})
    assert started.action_id
    deadline = time.monotonic() + 60
    while (action := c.actions.get_action(started.action_id).data).status not in (
        "completed", "failed"
    ):
        assert time.monotonic() < deadline, action.status
        time.sleep(0.2)
    assert action.status == "failed"
    assert action.type == "restart" and action.resource.id == daemon.id

    # A list of 45 paged by 20: the SDK reads 3 pages from the Link header.
    for i in range(44):
        c.network_rules.add_environment_network_rule(env, {
            "name": f"rule {i}", "direction": "inbound", "protocol": "tcp", "port": 1000 + i,
            "cidr_block": "10.0.0.0/8",
        })
    first = c.network_rules.list_environment_network_rules(env, page=1, per_page=20)
    assert first.page_count == 3
    seen: list[Any] = [r.id for r in first.data]
    for page in (2, 3):
        seen += [r.id for r in c.network_rules.list_environment_network_rules(
            env, page=page, per_page=20).data]
    assert len(seen) == len(set(seen)) == 45
    for lister in (c.servers.list_environment_servers, c.applications.list_environment_applications,
                   c.services.list_environment_services, c.daemons.list_environment_daemons,
                   c.cron_jobs.list_environment_cron_jobs,
                   c.virtual_hosts.list_environment_virtual_hosts,
                   c.ssl_certificates.list_environment_ssl_certificates,
                   c.ssh_keys.list_environment_ssh_keys):
        assert len(lister(env).data) == 1

    # Deleting in dependency order; each dependent blocks its parent first.
    with pytest.raises(DevopnessApiError) as failure:
        c.servers.delete_server(server.id)
    assert failure.value.status_code == 409
    c.variables.delete_variable(variable.id)
    c.ssl_certificates.delete_ssl_certificate(certificate.id)
    c.virtual_hosts.delete_virtual_host(host.id)
    c.daemons.delete_daemon(daemon.id)
    c.cron_jobs.delete_cron_job(cron_job.id)
    c.applications.delete_application(application.id)
    c.services.delete_service(service.id)
    c.ssh_keys.delete_ssh_key(key.id)
    for rule_id in seen:
        c.network_rules.delete_network_rule(rule_id)
    c.servers.delete_server(server.id)
    with pytest.raises(DevopnessApiError) as failure:
        c.servers.get_server(server.id)
    assert failure.value.status_code == 404

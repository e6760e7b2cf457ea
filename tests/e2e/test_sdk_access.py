"""Access control end to end, with the official SDK where it has the operation.

A second user invited into a team linked to an environment with the read-only role can
list that environment's resources but not change them; a project API token with the
deploy-only role can deploy but not delete. (SDK 2.8 has no team-invitation methods:
invite and accept go over plain HTTP, as a browser would.)
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devopness import DevopnessClient
from devopness.core.api_error import DevopnessApiError

from tests.conftest import Mailbox, free_port
from tests.e2e.conftest import LiveServer, sign_up_and_log_in, source_credential


def _client(server: LiveServer, token: str) -> DevopnessClient:
    return DevopnessClient(
        {"base_url": server.url, "api_token": token, "strict_validation_mode": True}
    )


def _refused(call: Any, status: int) -> None:
    with pytest.raises(DevopnessApiError) as failure:
        call()
    assert failure.value.status_code == status


def test_read_only_member_and_deploy_only_token(
    live_server: LiveServer, mailbox: Mailbox
) -> None:
    owner_access = sign_up_and_log_in(live_server, mailbox, "owner-e2e@example.com",
                                      "owner-password-1")
    c = _client(live_server, owner_access)
    org = c.organizations.add_organization({"name": "Access Org", "url_slug": "access-org"}).data
    project = c.projects.add_organization_project(org.id, {"name": "Shop"}).data
    env = c.environments.add_project_environment(
        project.id, {"type": "production", "name": "prod"}
    ).data
    server = c.servers.add_environment_server(env.id, {
        "hostname": "web-1", "ip_address": "127.0.0.1", "ssh_port": free_port(),
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    }).data
    application = c.applications.add_environment_application(env.id, {
        "name": "shop", "repository": "acme/shop",
        "credential_id": source_credential(c, org.id, env.id),
        "programming_language": "python",
        "framework": "django", "engine_version": "3.12", "default_branch": "main",
        "linked_resources": [{"resource_type": "server", "resource_id": server.id}],
    }).data
    read_only = c.roles.add_organization_role(org.id, {
        "name": "Viewer", "description": "reads the environment",
        "permissions": ["environment:read", "server:read", "application:read"],
    }).data
    deployer = c.roles.add_organization_role(org.id, {
        "name": "Deployer", "description": "deploys, deletes nothing",
        "permissions": ["environment:read", "application:read", "application:deploy"],
    }).data
    team = c.teams.add_organization_team(org.id, {"name": "Viewers"}).data

    guest_email = "guest-e2e@example.com"
    with httpx.Client(base_url=live_server.url, headers={"Accept": "application/json"}) as http:
        r = http.post(f"/teams/{team.id}/invitations",
                      json={"type": "private", "email": guest_email},
                      headers={"Authorization": f"Bearer {owner_access}"})
        assert r.status_code == 201, r.text
        invitation_id = r.json()["id"]
    guest_access = sign_up_and_log_in(live_server, mailbox, guest_email, "guest-password-1")
    with httpx.Client(base_url=live_server.url, headers={"Accept": "application/json"}) as http:
        r = http.post(f"/team-invitations/{invitation_id}/accept",
                      headers={"Authorization": f"Bearer {guest_access}"})
        assert r.status_code == 204, r.text
    guest = _client(live_server, guest_access)
    _refused(lambda: guest.servers.list_environment_servers(env.id), 404)

    c.teams.link_team_to_environment(env.id, team.id, {"role_id": read_only.id})
    assert [s.id for s in guest.servers.list_environment_servers(env.id).data] == [server.id]
    assert [a.id for a in guest.applications.list_environment_applications(env.id).data] == [
        application.id
    ]
    _refused(lambda: guest.servers.update_server(server.id, {"id": server.id, "ssh_port": 2222}),
             403)
    _refused(lambda: guest.applications.delete_application(application.id), 403)
    _refused(lambda: guest.applications.add_application_deployment(
        application.id, {"type": "deploy", "source_type": "branch", "source_ref": "main"}
    ), 403)
    assert c.servers.get_server(server.id).data.ssh_port != 2222

    expires = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    token = c.api_tokens.add_project_api_token(
        project.id, {"name": "ci deployer", "role_id": deployer.id, "expires_at": expires}
    ).data.token
    assert token
    bot = _client(live_server, token)
    started = bot.applications.add_application_deployment(
        application.id, {"type": "deploy", "source_type": "branch", "source_ref": "main"}
    )
    assert started.action_id
    deadline = time.monotonic() + 60
    while (action := c.actions.get_action(started.action_id).data).status not in (
        "completed", "failed"
    ):
        assert time.monotonic() < deadline, action.status
        time.sleep(0.2)
    # Nothing listens on the server's SSH port: the deployment ran and failed to connect.
    assert action.status == "failed" and action.type == "deploy"
    _refused(lambda: bot.applications.delete_application(application.id), 403)
    assert c.applications.get_application(application.id).data.id == application.id

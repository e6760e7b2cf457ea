"""A real server process on its own database holding one of each resource, made through the
API the way a user makes them, for tests that drive every operation of the reference."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.core.migrations import upgrade
from app.core.settings import Settings
from app.users.bootstrap import create_user_with_token
from tests.conftest import CLOSED, free_port
from tests.live import api_process
from tests.resource_factories import ssh_keypair
from tests.resources_common.test_validators import make_certificate

SECRET_KEY = "seeded-server-secret-key-not-for-production"


@dataclass
class SeededServer:
    url: str
    token: str
    # Path parameter name -> the seeded row's id (or slug, UUID...).
    pins: dict[str, Any] = field(default_factory=dict)
    # Resource type (as path parameters spell it) -> a seeded row of that type.
    resources: dict[str, int] = field(default_factory=dict)
    # Hook type ("incoming"/"outgoing") -> a seeded hook's id.
    hooks: dict[str, str] = field(default_factory=dict)


def _env(database_url: str, url: str, smtp_port: int, moto_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "PUBLIC_URL": url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "LOG_LEVEL": "ERROR",
        "RATE_LIMIT_ENABLED": "false",
        "AWS_ENDPOINT_URL": moto_url,
        "DIGITALOCEAN_API_URL": f"{CLOSED}/v2",
        "HETZNER_API_URL": f"{CLOSED}/v1",
        "AZURE_LOGIN_URL": f"{CLOSED}/azure-login",
        "AZURE_MANAGEMENT_URL": f"{CLOSED}/azure",
        "GCP_COMPUTE_URL": f"{CLOSED}/compute/v1",
        "GITHUB_API_URL": f"{CLOSED}/github",
        "GITLAB_URL": f"{CLOSED}/gitlab",
        "BITBUCKET_API_URL": f"{CLOSED}/bitbucket",
        "PROVIDER_TIMEOUT_SECONDS": "2",
    }
    env.pop("REDIS_URL", None)
    return env


@contextmanager
def seeded_server(tmp: Path, smtp_port: int, moto_url: str) -> Iterator[SeededServer]:
    database_url = f"sqlite+aiosqlite:///{tmp / 'seeded.db'}"
    settings = Settings(database_url=database_url, secret_key=SECRET_KEY,
                        _env_file=None)  # type: ignore[call-arg]
    upgrade(settings)
    _, token = asyncio.run(create_user_with_token(
        settings, email="owner@corp.local", password="owner-password-1", name="Owner",
        token_expires_at=datetime.now(UTC) + timedelta(days=1),
    ))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with api_process(_env(database_url, url, smtp_port, moto_url), port, start_seconds=30,
                     log_level="error"):
        server = SeededServer(url=url, token=token)
        with httpx.Client(base_url=url, timeout=60, headers={
            "Accept": "application/json", "Authorization": f"Bearer {token}",
        }) as http:
            _seed(http, server)
        yield server


def _post(http: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    r = http.post(path, json=body)
    assert r.status_code in (200, 201, 202, 204), f"seeding {path}: {r.status_code} {r.text}"
    return r


def _made(http: httpx.Client, path: str, body: dict[str, Any]) -> Any:
    return _post(http, path, body).json()["id"]


def _action(http: httpx.Client, path: str, body: dict[str, Any]) -> int:
    return int(_post(http, path, body).headers["X-Devopness-Action-Id"])


def _seed(http: httpx.Client, s: SeededServer) -> None:
    p = s.pins
    me = http.get("/users/me").json()
    p["user_id"] = str(me["id"])
    org = _post(http, "/organizations", {"name": "Fuzz Org", "url_slug": "fuzz-org"}).json()
    p["organization_id"] = str(org["id"])
    p["project_id"] = _made(http, f"/organizations/{org['id']}/projects", {"name": "Shop"})
    env = p["environment_id"] = _made(
        http, f"/projects/{p['project_id']}/environments", {"type": "production", "name": "prod"}
    )
    server = p["server_id"] = _made(http, f"/environments/{env}/servers", {
        "hostname": "web-1", "ip_address": "127.0.0.1", "ssh_port": free_port(),
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    })
    on_server = [{"resource_type": "server", "resource_id": server}]
    p["credential_id"] = _made(http, f"/environments/{env}/credentials", {
        "name": "aws", "provider_code": "aws", "provider_type": "cloud_provider", "active": True,
        "settings": {"credential": {"access_key_id": "AKIAIOSFODNN7EXAMPLE",
                                    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/EXAMPLEKEY"}},
    })
    # An application fetches its code with a source provider's credential, never a cloud one.
    source = _made(http, f"/environments/{env}/credentials", {
        "name": "github", "provider_code": "github", "provider_type": "source_provider",
        "active": True,
        "settings": {"credential": {"auth_type": "api_credentials",
                                    "access_token": "ghp_seeded0000000000000000000000000000"}},
    })
    application = p["application_id"] = _made(http, f"/environments/{env}/applications", {
        "name": "shop", "repository": "acme/shop", "credential_id": source,
        "programming_language": "python", "framework": "django", "engine_version": "3.12",
        "default_branch": "main", "linked_resources": on_server,
    })
    p["service_id"] = _made(http, f"/environments/{env}/services",
                            {"type": "redis", "version": "7", "linked_resources": on_server})
    p["daemon_id"] = _made(http, f"/environments/{env}/daemons", {
        "name": "worker", "command": "python worker.py", "process_count": 1,
        "working_directory": "current", "run_as_user": "www-data",
        "application_id": application, "linked_resources": on_server,
    })
    p["cron_job_id"] = _made(http, f"/environments/{env}/cron-jobs", {
        "name": "nightly", "command": "backup --all", "pattern": "0 0 * * *",
        "run_as_user": "root", "linked_resources": on_server,
    })
    p["virtual_host_id"] = _made(http, f"/environments/{env}/virtual-hosts", {
        "type": "name-based", "name": "shop.example.com", "root_directory": "public",
        "application_id": application, "linked_resources": on_server,
    })
    certificate, key = make_certificate("shop.example.com")
    p["ssl_certificate_id"] = _made(http, f"/environments/{env}/ssl-certificates", {
        "virtual_host_id": p["virtual_host_id"], "issuer": "custom",
        "custom_certificate": certificate, "custom_private_key": key,
    })
    p["network_rule_id"] = _made(http, f"/environments/{env}/network-rules", {
        "name": "https", "direction": "inbound", "protocol": "tcp", "port": 443,
        "cidr_block": "0.0.0.0/0", "linked_resources": on_server,
    })
    public, _ = ssh_keypair()
    p["ssh_key_id"] = _made(http, f"/environments/{env}/ssh-keys",
                            {"name": "laptop", "public_key": public, "linked_resources": on_server})
    p["variable_id"] = _made(http, f"/variables/application/{application}", {
        "key": "GREETING", "value": "hello", "target": "os-env-var", "type": "variable",
        "hidden": False,
    })
    s.resources.update({
        "application": application, "server": server, "service": p["service_id"],
        "daemon": p["daemon_id"], "cronjob": p["cron_job_id"],
        "virtual-host": p["virtual_host_id"], "ssl-certificate": p["ssl_certificate_id"],
        "network-rule": p["network_rule_id"], "ssh-key": p["ssh_key_id"],
        "credential": p["credential_id"],
    })

    pipelines = http.get(f"/pipelines/application/{application}").json()
    p["pipeline_id"] = pipelines[0]["id"]
    pipeline = http.get(f"/pipelines/{p['pipeline_id']}").json()
    p["step_id"] = pipeline["steps"][0]["id"]
    incoming = _post(http, f"/pipelines/{p['pipeline_id']}/hooks/incoming",
                     {"name": "deploy on push"}).json()
    s.hooks["incoming"] = incoming["id"]
    outgoing = http.post(f"/pipelines/{p['pipeline_id']}/hooks/outgoing", json={
        "name": "notify", "target_url": f"{CLOSED}/notify",
        "trigger_when": {"events": ["action.completed"]},
    })
    if outgoing.status_code == 201:
        s.hooks["outgoing"] = outgoing.json()["id"]
    trigger = httpx.post(f"{s.url}/hooks/{incoming['id']}/trigger", json={"ref": "main"})
    assert trigger.status_code < 500, trigger.text
    requests = http.get(f"/hooks/incoming/{incoming['id']}/requests").json()
    if requests:
        p["hook_request_id"] = requests[0]["id"]

    action = p["action_id"] = _action(http, f"/daemons/{p['daemon_id']}/restart",
                                      {"servers": [server]})
    deadline = time.monotonic() + 60
    while (detail := http.get(f"/actions/{action}").json())["status"] not in (
        "completed", "failed"
    ):
        assert time.monotonic() < deadline, detail["status"]
        time.sleep(0.2)
    p["action_target_id"] = detail["targets"][0]["id"]
    p["action_step_order"] = 1

    p["role_id"] = _made(http, f"/organizations/{org['id']}/roles", {
        "name": "readers", "description": "read only", "permissions": ["server:read"],
    })
    p["team_id"] = _made(http, f"/organizations/{org['id']}/teams", {"name": "ops"})
    invitation = _post(http, f"/teams/{p['team_id']}/invitations",
                       {"type": "private", "email": "invitee@corp.local"}).json()
    p["team_invitation_id"] = invitation["id"]
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # A second personal token: operations on it (rotate, revoke) leave ours working.
    p["personal_access_token_id"] = _made(http, "/users/personal-access-tokens",
                                          {"name": "spare", "expires_at": expires})
    p["token_id"] = _made(http, f"/projects/{p['project_id']}/tokens",
                          {"name": "ci token", "role_id": p["role_id"], "expires_at": expires})
    p["network_id"] = _made(http, f"/environments/{env}/networks", {
        "name": "main-vpc", "credential_id": p["credential_id"],
        "provision_input": {"cloud_service_code": "aws-ec2",
                            "settings": {"region": "us-east-1", "cidr_block": "10.0.0.0/16"}},
    })
    p["subnet_id"] = _made(http, f"/networks/{p['network_id']}/subnets", {
        "name": "public-a", "type": "public", "credential_id": p["credential_id"],
        "provision_input": {"settings": {"zone": "us-east-1a", "cidr_block": "10.0.1.0/24"}},
    })
    p["provider_code"] = "aws"
    p["cloud_provider_service_code"] = "aws-ec2"
    p["region_code"] = "us-east-1"

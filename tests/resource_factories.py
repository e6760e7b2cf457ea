"""Factories for environments and the resources inside them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.ext.asyncio import AsyncSession

from app.applications.models import Application
from app.cron_jobs.models import CronJob
from app.daemons.models import Daemon
from app.environments.models import Environment
from app.network_rules.models import NetworkRule
from app.projects.models import Project
from app.resources_common.models import ResourceServer
from app.servers.models import Server
from app.services.models import Service
from app.ssh_keys.models import SshKey
from app.ssl_certificates.models import SslCertificate
from app.users.models import User
from app.variables.models import Variable
from app.virtual_hosts.models import VirtualHost
from tests.factories import create_project, environment_key, user_with_token

_seq = itertools.count(1)


def ssh_keypair() -> tuple[str, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    return public, private


async def create_environment(db: AsyncSession, project: Project, creator: User) -> Environment:
    key = environment_key()
    environment = Environment(
        project_id=project.id,
        type="production",
        name=f"env-{next(_seq)}",
        description=None,
        created_by=creator.id,
        ssh_public_key=key.public_key,
        ssh_private_key_encrypted=key.private_key_encrypted,
    )
    db.add(environment)
    await db.commit()
    return environment


@dataclass
class Tenant:
    user: User
    token: str
    project: Project
    environment: Environment

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def create_tenant(db: AsyncSession) -> Tenant:
    user, token = await user_with_token(db)
    project = await create_project(db, user)
    environment = await create_environment(db, project, user)
    return Tenant(user, token, project, environment)


async def create_server(db: AsyncSession, tenant: Tenant, **overrides: object) -> Server:
    n = next(_seq)
    values: dict[str, object] = {
        "environment_id": tenant.environment.id,
        "project_id": tenant.project.id,
        "created_by": tenant.user.id,
        "name": f"srv-{n}",
        "hostname": f"srv-{n}",
        "cloud_service_code": "self-hosted-custom",
        # Loopback with nothing listening: an operation that reaches the engine fails fast
        # with "connection refused" and never sends traffic off this machine.
        "ip_address": "127.0.0.1",
        "ssh_port": 1,
        "os_version_code": "ubuntu_24_04",
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    } | overrides
    server = Server(**values)
    db.add(server)
    await db.commit()
    return server


def _base(tenant: Tenant) -> dict[str, object]:
    return {
        "environment_id": tenant.environment.id,
        "project_id": tenant.project.id,
        "created_by": tenant.user.id,
    }


async def create_application(db: AsyncSession, tenant: Tenant, **overrides: object
                             ) -> Application:
    n = next(_seq)
    application = Application(**(_base(tenant) | {
        "name": f"app-{n}", "repository": "acme/web", "default_branch": "main",
        "programming_language": "python", "engine_version": "3.12", "framework": "django",
        "root_directory": "/", "deployments_keep": 5, "credential_id": 1,
    } | overrides))
    db.add(application)
    await db.commit()
    return application


async def create_daemon(db: AsyncSession, tenant: Tenant, **overrides: object) -> Daemon:
    n = next(_seq)
    daemon = Daemon(**(_base(tenant) | {
        "name": f"worker-{n}", "command": "python worker.py", "run_as_user": "www-data",
        "working_directory": "/srv", "process_count": 1,
    } | overrides))
    db.add(daemon)
    await db.commit()
    return daemon


async def create_cron_job(db: AsyncSession, tenant: Tenant, **overrides: object) -> CronJob:
    n = next(_seq)
    cron_job = CronJob(**(_base(tenant) | {
        "name": f"cron-{n}", "command": "echo hello", "pattern": "0 0 * * *",
        "run_as_user": "root",
    } | overrides))
    db.add(cron_job)
    await db.commit()
    return cron_job


async def create_service(db: AsyncSession, tenant: Tenant, **overrides: object) -> Service:
    n = next(_seq)
    service = Service(**(_base(tenant) | {
        "name": f"redis-{n}", "type": "redis", "version": "7",
    } | overrides))
    db.add(service)
    await db.commit()
    return service


async def create_network_rule(db: AsyncSession, tenant: Tenant, **overrides: object
                              ) -> NetworkRule:
    rule = NetworkRule(**(_base(tenant) | {
        "name": f"rule {next(_seq)}", "direction": "inbound", "protocol": "tcp", "port": 443,
        "cidr_block": "0.0.0.0/0",
    } | overrides))
    db.add(rule)
    await db.commit()
    return rule


async def create_ssh_key(db: AsyncSession, tenant: Tenant, **overrides: object) -> SshKey:
    n = next(_seq)
    key = SshKey(**(_base(tenant) | {
        "name": f"key-{n}", "key_type": "ssh-ed25519", "public_key": f"ssh-ed25519 AAAA{n}",
        "fingerprint": "00:" * 15 + "00", "fingerprint_sha256": f"SHA256:{n}",
    } | overrides))
    db.add(key)
    await db.commit()
    return key


async def create_virtual_host(db: AsyncSession, tenant: Tenant, **overrides: object
                              ) -> VirtualHost:
    host = VirtualHost(**(_base(tenant) | {
        "type": "name-based", "name": f"site{next(_seq)}.example.com",
        "root_directory": "/var/www",
    } | overrides))
    db.add(host)
    await db.commit()
    return host


async def create_ssl_certificate(db: AsyncSession, tenant: Tenant, **overrides: object
                                 ) -> SslCertificate:
    if "virtual_host_id" not in overrides:
        overrides["virtual_host_id"] = (await create_virtual_host(db, tenant)).id
    certificate = SslCertificate(**(_base(tenant) | {
        "name": "cert.example.com", "issuer": "lets-encrypt", "type": "single-domain",
        "validation_level": "DV",
    } | overrides))
    db.add(certificate)
    await db.commit()
    return certificate


async def create_variable(db: AsyncSession, tenant: Tenant, resource_type: str,
                          resource_id: int, **overrides: object) -> Variable:
    variable = Variable(**(_base(tenant) | {
        "resource_type": resource_type, "resource_id": resource_id,
        "key": f"KEY_{next(_seq)}", "type": "variable", "target": "os-env-var",
        "value_plain": "v", "hidden": False,
    } | overrides))
    db.add(variable)
    await db.commit()
    return variable


async def link(db: AsyncSession, resource_type: str, resource_id: int, server: Server) -> None:
    db.add(ResourceServer(resource_type=resource_type, resource_id=resource_id,
                          server_id=server.id))
    await db.commit()


def field_errors(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"]
    errors: dict[str, list[str]] = body["errors"]
    return errors


async def assert_action_started(
    client: httpx.AsyncClient,
    response: httpx.Response,
    tenant: Tenant,
    *,
    resource_type: str,
    resource_id: int,
    operation: str,
    server_ids: list[int],
) -> dict[str, Any]:
    """An operation answered with the action it started, and that action really ran: its
    targets are the resource's servers, and it ended (failed: the factory's servers listen
    on nothing, so the SSH connection is refused)."""
    assert response.status_code in (200, 201, 202, 204), response.text
    action_id = int(response.headers["X-Devopness-Action-Id"])
    r = await client.get(f"/actions/{action_id}", params={"wait": 30}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    action: dict[str, Any] = r.json()
    assert action["type"] == operation.replace("-", "_")
    assert action["resource"]["type"] == resource_type
    assert action["resource"]["id"] == resource_id
    assert sorted(t["resource_id"] for t in action["targets"]) == sorted(server_ids)
    assert action["status"] == "failed", action["status"]
    return action

"""Factories for environments and the resources inside them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.ext.asyncio import AsyncSession

from app.environments.models import Environment
from app.projects.models import Project
from app.servers.models import Server
from app.users.models import User
from tests.factories import create_project, user_with_token

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
    public, _ = ssh_keypair()
    environment = Environment(
        project_id=project.id,
        type="production",
        name=f"env-{next(_seq)}",
        description=None,
        created_by=creator.id,
        ssh_public_key=public,
        ssh_private_key_encrypted="not-used-in-these-tests",
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
        "ip_address": "10.0.0.1",
        "ssh_port": 22,
        "os_version_code": "ubuntu_24_04",
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    } | overrides
    server = Server(**values)
    db.add(server)
    await db.commit()
    return server

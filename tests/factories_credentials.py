"""Factories for credentials, networks and the tenants around them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import SecretBox
from app.core.settings import Settings
from app.credentials.catalogue import PROVIDERS
from app.credentials.models import Credential, CredentialEnvironment
from app.credentials.secrets import seal
from app.environments.models import Environment
from app.networks.models import Network
from app.organizations.models import Organization
from app.projects.models import Project
from app.users.models import User
from tests.factories import (
    auth,
    create_environment,
    create_organization,
    create_project,
    user_with_token,
)

_seq = itertools.count(1)

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_VALUES = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": AWS_SECRET}


@dataclass
class Tenant:
    user: User
    token: str
    organization: Organization
    project: Project
    environment: Environment

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.token)


async def create_tenant(db: AsyncSession) -> Tenant:
    user, token = await user_with_token(db)
    organization = await create_organization(db, user)
    project = await create_project(db, user, organization=organization)
    environment = await create_environment(db, project)
    return Tenant(user, token, organization, project, environment)


async def create_credential(
    db: AsyncSession,
    settings: Settings,
    tenant: Tenant,
    *,
    provider_code: str = "aws",
    values: dict[str, str] | None = None,
    auth_type: str = "api_credentials",
    link: bool = True,
    name: str | None = None,
) -> Credential:
    credential = Credential(
        name=name or f"credential {next(_seq)}",
        provider_code=provider_code,
        provider_type=PROVIDERS[provider_code].type.value,
        auth_type=auth_type,
        active=True,
        organization_id=tenant.organization.id,
        created_by=tenant.user.id,
        settings_encrypted=seal(SecretBox(settings), values or dict(AWS_VALUES)),
    )
    db.add(credential)
    await db.flush()
    if link:
        db.add(CredentialEnvironment(credential_id=credential.id,
                                     environment_id=tenant.environment.id))
    await db.commit()
    return credential


async def create_network(
    db: AsyncSession, tenant: Tenant, credential: Credential, **overrides: Any
) -> Network:
    values: dict[str, Any] = {
        "environment_id": tenant.environment.id,
        "project_id": tenant.project.id,
        "credential_id": credential.id,
        "name": f"net-{next(_seq)}",
        "provider_name": "aws",
        "cloud_service_code": "aws-ec2",
        "region": "us-east-1",
        "cidr_block": "10.0.0.0/16",
        "created_by": tenant.user.id,
    }
    values.update(overrides)
    network = Network(**values)
    db.add(network)
    await db.commit()
    return network

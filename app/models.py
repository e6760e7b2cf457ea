"""Imports every domain's models so that `Base.metadata` is complete (Alembic, tests)."""

from app.actions.models import (
    Action,
    ActionLogChunk,
    ActionStep,
    ActionTarget,
    Pipeline,
    PipelineStep,
    ServerSlotLock,
)
from app.applications.models import Application
from app.core.database import Base
from app.credentials.models import Credential, CredentialEnvironment
from app.cron_jobs.models import CronJob
from app.daemons.models import Daemon
from app.environments.models import Environment
from app.events.models import ResourceEvent
from app.hooks.models import Hook, HookRequest
from app.network_rules.models import NetworkRule
from app.networks.models import Network, Subnet
from app.organizations.models import Organization
from app.projects.models import Project
from app.resource_links.models import ResourceLink
from app.resources_common.models import ResourceServer
from app.roles.models import Role
from app.servers.models import Server
from app.services.models import Service
from app.social_accounts.models import SocialAccount
from app.ssh_keys.models import SshKey
from app.ssl_certificates.models import SslCertificate
from app.teams.models import Team, TeamInvitation, TeamLink, TeamMember
from app.tokens.models import ApiToken
from app.users.models import AuthSession, User, UserToken
from app.variables.models import Variable
from app.virtual_hosts.models import VirtualHost

__all__ = [
    "Action",
    "ActionLogChunk",
    "ActionStep",
    "ActionTarget",
    "ApiToken",
    "Application",
    "AuthSession",
    "Base",
    "Credential",
    "CredentialEnvironment",
    "CronJob",
    "Daemon",
    "Environment",
    "Hook",
    "HookRequest",
    "Network",
    "NetworkRule",
    "Organization",
    "Pipeline",
    "PipelineStep",
    "Project",
    "ResourceEvent",
    "ResourceLink",
    "ResourceServer",
    "Role",
    "Server",
    "ServerSlotLock",
    "Service",
    "SocialAccount",
    "SshKey",
    "SslCertificate",
    "Subnet",
    "Team",
    "TeamInvitation",
    "TeamLink",
    "TeamMember",
    "User",
    "UserToken",
    "Variable",
    "VirtualHost",
]

"""Imports every domain's models so that `Base.metadata` is complete (Alembic, tests)."""

from app.applications.models import Application
from app.core.database import Base
from app.cron_jobs.models import CronJob
from app.daemons.models import Daemon
from app.environments.models import Environment
from app.network_rules.models import NetworkRule
from app.organizations.models import Organization
from app.projects.models import Project
from app.resources_common.models import ResourceServer
from app.roles.models import Role
from app.servers.models import Server
from app.services.models import Service
from app.ssh_keys.models import SshKey
from app.ssl_certificates.models import SslCertificate
from app.teams.models import Team, TeamInvitation, TeamLink, TeamMember
from app.tokens.models import ApiToken
from app.users.models import AuthSession, User, UserToken
from app.variables.models import Variable
from app.virtual_hosts.models import VirtualHost

__all__ = [
    "ApiToken",
    "Application",
    "AuthSession",
    "Base",
    "CronJob",
    "Daemon",
    "Environment",
    "NetworkRule",
    "Organization",
    "Project",
    "ResourceServer",
    "Role",
    "Server",
    "Service",
    "SshKey",
    "SslCertificate",
    "Team",
    "TeamInvitation",
    "TeamLink",
    "TeamMember",
    "User",
    "UserToken",
    "Variable",
    "VirtualHost",
]

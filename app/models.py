"""Imports every domain's models so that `Base.metadata` is complete (Alembic, tests)."""

from app.core.database import Base
from app.credentials.models import Credential, CredentialEnvironment
from app.environments.models import Environment
from app.events.models import ResourceEvent
from app.hooks.models import Hook, HookRequest
from app.networks.models import Network, Subnet
from app.organizations.models import Organization
from app.projects.models import Project
from app.resource_links.models import ResourceLink
from app.roles.models import Role
from app.social_accounts.models import SocialAccount
from app.teams.models import Team, TeamInvitation, TeamLink, TeamMember
from app.tokens.models import ApiToken
from app.users.models import AuthSession, User, UserToken

__all__ = [
    "ApiToken",
    "AuthSession",
    "Base",
    "Credential",
    "CredentialEnvironment",
    "Environment",
    "Hook",
    "HookRequest",
    "Network",
    "Organization",
    "Project",
    "ResourceEvent",
    "ResourceLink",
    "Role",
    "SocialAccount",
    "Subnet",
    "Team",
    "TeamInvitation",
    "TeamLink",
    "TeamMember",
    "User",
    "UserToken",
]

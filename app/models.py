"""Imports every domain's models so that `Base.metadata` is complete (Alembic, tests)."""

from app.core.database import Base
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.teams.models import Team, TeamInvitation, TeamLink, TeamMember
from app.tokens.models import ApiToken
from app.users.models import AuthSession, User, UserToken

__all__ = [
    "ApiToken",
    "AuthSession",
    "Base",
    "Environment",
    "Organization",
    "Project",
    "Role",
    "Team",
    "TeamInvitation",
    "TeamLink",
    "TeamMember",
    "User",
    "UserToken",
]

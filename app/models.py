"""Imports every domain's models so that `Base.metadata` is complete (Alembic, tests)."""

from app.core.database import Base
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.tokens.models import ApiToken
from app.users.models import AuthSession, User, UserToken

__all__ = [
    "ApiToken",
    "AuthSession",
    "Base",
    "Organization",
    "Project",
    "Role",
    "User",
    "UserToken",
]

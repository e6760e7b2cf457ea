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
from app.core.database import Base
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.teams.models import Team, TeamInvitation, TeamLink, TeamMember
from app.tokens.models import ApiToken
from app.users.models import AuthSession, User, UserToken

__all__ = [
    "Action",
    "ActionLogChunk",
    "ActionStep",
    "ActionTarget",
    "ApiToken",
    "AuthSession",
    "Base",
    "Environment",
    "Organization",
    "Pipeline",
    "PipelineStep",
    "Project",
    "Role",
    "ServerSlotLock",
    "Team",
    "TeamInvitation",
    "TeamLink",
    "TeamMember",
    "User",
    "UserToken",
]

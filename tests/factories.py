"""Plain async factories for arranging data directly in the database."""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import SecretBox, hash_password, hash_token, new_token
from app.environments.keys import SealedKeyPair, new_environment_key
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.teams.models import (
    Team,
    TeamInvitation,
    TeamInvitationStatus,
    TeamInvitationType,
    TeamLink,
    TeamMember,
)
from app.tokens.models import ApiToken, ApiTokenType
from app.tokens.service import PREFIXES
from app.users.models import User

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"


@functools.cache
def environment_key() -> SealedKeyPair:
    """A real key pair sealed with the tests' SECRET_KEY, as environments get on creation
    (shared: generating one per environment would only slow the suite)."""
    from app.core.settings import Settings
    from tests.conftest import TEST_SECRET_KEY

    box = SecretBox(Settings(secret_key=TEST_SECRET_KEY, _env_file=None))  # type: ignore[call-arg]
    return new_environment_key(box, "test-environment")


@functools.cache
def _password_hash(password: str) -> str:
    # Argon2 is slow by design; one hash per distinct password keeps the suite fast.
    return hash_password(password)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_user(
    db: AsyncSession,
    *,
    email: str | None = None,
    name: str = "Test User",
    password: str = PASSWORD,
    verified: bool = True,
) -> User:
    n = next(_seq)
    now = datetime.now(UTC)
    user = User(
        email=email or f"user{n}@example.com",
        name=name,
        url_slug=f"user-{n}",
        password_hash=_password_hash(password),
        active=verified,
        email_verified_at=now if verified else None,
    )
    db.add(user)
    await db.commit()
    return user


async def create_pat(
    db: AsyncSession, user: User, *, expires_in: timedelta = timedelta(days=30)
) -> tuple[ApiToken, str]:
    secret = new_token(PREFIXES[ApiTokenType.PERSONAL_ACCESS_TOKEN])
    token = ApiToken(
        type=ApiTokenType.PERSONAL_ACCESS_TOKEN,
        name=f"token {next(_seq)}",
        token_hash=hash_token(secret),
        user_id=user.id,
        expires_at=datetime.now(UTC) + expires_in,
    )
    db.add(token)
    await db.commit()
    return token, secret


async def user_with_token(db: AsyncSession, **kwargs: object) -> tuple[User, str]:
    user = await create_user(db, **kwargs)  # type: ignore[arg-type]
    _, secret = await create_pat(db, user)
    return user, secret


async def create_organization(db: AsyncSession, owner: User) -> Organization:
    n = next(_seq)
    org = Organization(name=f"Org {n}", url_slug=f"org-{n}", owner_id=owner.id)
    db.add(org)
    await db.commit()
    return org


async def create_project(
    db: AsyncSession, owner: User, *, organization: Organization | None = None
) -> Project:
    project = Project(
        name=f"Project {next(_seq)}",
        user_id=owner.id,
        organization_id=organization.id if organization else None,
        created_by=owner.id,
    )
    db.add(project)
    await db.commit()
    return project


async def create_role(
    db: AsyncSession,
    *,
    permissions: list[str],
    name: str | None = None,
    organization: Organization | None = None,
) -> Role:
    role = Role(
        name=name or f"role-{next(_seq)}",
        description="test role",
        is_predefined=organization is None,
        permissions=permissions,
        organization_id=organization.id if organization else None,
    )
    db.add(role)
    await db.commit()
    return role


async def create_project_token(
    db: AsyncSession, project: Project, role: Role, creator: User
) -> tuple[ApiToken, str]:
    secret = new_token(PREFIXES[ApiTokenType.PROJECT_API_TOKEN])
    token = ApiToken(
        type=ApiTokenType.PROJECT_API_TOKEN,
        name=f"project token {next(_seq)}",
        token_hash=hash_token(secret),
        user_id=creator.id,
        project_id=project.id,
        role_id=role.id,
        expires_at=datetime.now(UTC) + timedelta(days=30),
    )
    db.add(token)
    await db.commit()
    return token, secret


async def create_environment(
    db: AsyncSession,
    project: Project,
    *,
    name: str | None = None,
    type: str = "development",
    archived: bool = False,
) -> Environment:
    environment = Environment(
        project_id=project.id,
        type=type,
        name=name or f"env-{next(_seq)}",
        description="test environment",
        created_by=project.user_id,
        ssh_public_key=(key := environment_key()).public_key,
        ssh_private_key_encrypted=key.private_key_encrypted,
        archived_at=datetime.now(UTC) if archived else None,
    )
    db.add(environment)
    await db.commit()
    return environment


async def create_team(
    db: AsyncSession,
    *,
    organization: Organization | None = None,
    project: Project | None = None,
    members: tuple[User, ...] = (),
    creator: User | None = None,
) -> Team:
    team = Team(
        name=f"Team {next(_seq)}",
        organization_id=organization.id if organization else None,
        project_id=project.id if project else None,
        created_by=creator.id if creator else None,
    )
    db.add(team)
    await db.flush()
    for member in members:
        db.add(TeamMember(team_id=team.id, user_id=member.id))
    await db.commit()
    return team


async def link_team(
    db: AsyncSession,
    team: Team,
    role: Role,
    *,
    organization: Organization | None = None,
    project: Project | None = None,
    environment: Environment | None = None,
) -> TeamLink:
    link = TeamLink(
        team_id=team.id,
        role_id=role.id,
        organization_id=organization.id if organization else None,
        project_id=project.id if project else None,
        environment_id=environment.id if environment else None,
    )
    db.add(link)
    await db.commit()
    return link


async def create_invitation(
    db: AsyncSession, team: Team, *, email: str, creator: User | None = None
) -> TeamInvitation:
    invitation = TeamInvitation(
        team_id=team.id,
        type=TeamInvitationType.PRIVATE,
        email=email.lower(),
        status=TeamInvitationStatus.PENDING,
        expires_at=datetime.now(UTC) + timedelta(days=7),
        created_by=creator.id if creator else None,
    )
    db.add(invitation)
    await db.commit()
    return invitation

"""Scope resolution: the set of permissions a caller holds at one organization, project,
environment, team or role (None where they cannot see it at all), decided from:

- ownership: the owner of a project, or of the organization a project belongs to, holds
  every permission on it and on everything inside it;
- team links: a team linked to an organization, project or environment with a role gives
  its members that role's permissions there (and below it); several links add up;
  reaching one environment of a project shows the project around it;
- project API tokens: their own project only, and there at most what both their role and
  their creator hold right now (checked on every use, so a token shrinks with its creator
  and has nothing once its creator has lost the project), never the user-only
  permissions (`api_token:*`).

`Authorizer` (`app.access.permissions`) checks requests against these sets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import NamedTuple, TypeVar, cast

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.catalogue import ALL_PERMISSIONS, USER_ONLY_PERMISSIONS
from app.access.visibility import linked_environment_ids
from app.core.changes import AccessCache
from app.core.database import session_wrote
from app.core.errors import Unauthenticated
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.teams.models import Team, TeamLink, TeamMember

T = TypeVar("T")


class _ProjectScope(NamedTuple):
    """Who owns a project, as the permission rules need it."""

    project_id: int
    owner_id: int
    organization_id: int | None
    org_owner_id: int | None


class PermissionResolver:
    """What the calling principal holds at a given scope, read per request."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Projects the caller reaches only through some of their environments.
        self._partial_projects: set[int] = set()
        database = session.info.get("database")
        self._cache: AccessCache | None = database.cache if database is not None else None

    async def _cached(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """`read()`, or what it gave under the same key while no access rule changed."""
        cache = self._cache
        if cache is None or not cache.enabled or session_wrote(self.session):
            return await read()
        generation = await cache.generation(self.session)
        hit, value = cache.get(key, generation)
        if hit:
            return cast(T, value)
        fresh = await read()
        if not session_wrote(self.session):
            cache.put(key, fresh, generation)
        return fresh

    @staticmethod
    def token_permissions(principal: Principal) -> frozenset[str]:
        """What a project token's role allows; its creator's rights bound it further."""
        return frozenset(principal.permissions or ()) - USER_ONLY_PERMISSIONS

    async def _team_permissions(
        self,
        user_id: int,
        *,
        organization_id: int | None = None,
        project_id: int | None = None,
        environment_id: int | None = None,
    ) -> frozenset[str] | None:
        async def read() -> frozenset[str] | None:
            targets = []
            if organization_id is not None:
                targets.append(TeamLink.organization_id == organization_id)
            if project_id is not None:
                targets.append(TeamLink.project_id == project_id)
            if environment_id is not None:
                targets.append(TeamLink.environment_id == environment_id)
            if not targets:
                return None
            stmt = (
                select(Role.permissions)
                .select_from(TeamLink)
                .join(
                    TeamMember,
                    and_(TeamMember.team_id == TeamLink.team_id, TeamMember.user_id == user_id),
                )
                .join(Role, Role.id == TeamLink.role_id)
                .where(or_(*targets))
            )
            rows = (await self.session.scalars(stmt)).all()
            if not rows:
                return None
            return frozenset(p for permissions in rows for p in permissions or ())

        return await self._cached(
            ("team", user_id, organization_id, project_id, environment_id), read)

    async def organization_permissions(
        self, principal: Principal, organization: Organization
    ) -> frozenset[str] | None:
        """None when the caller cannot see the organization at all."""
        if principal.is_project_token:
            return None
        if organization.owner_id == principal.user_id:
            return ALL_PERMISSIONS
        linked = await self._team_permissions(principal.user_id, organization_id=organization.id)
        if linked is not None:
            return linked
        statement = select(func.count()).where(
            Team.organization_id == organization.id,
            Team.id.in_(select(TeamMember.team_id).where(TeamMember.user_id == principal.user_id)),
        )
        member = await self._cached(
            ("org_member", organization.id, principal.user_id),
            lambda: self.session.scalar(statement))
        return frozenset({"organization:read"}) if member else None

    async def _user_project_permissions(
        self, uid: int, scope: _ProjectScope
    ) -> frozenset[str] | None:
        if uid in (scope.owner_id, scope.org_owner_id):
            return ALL_PERMISSIONS
        perms = await self._team_permissions(
            uid, organization_id=scope.organization_id, project_id=scope.project_id
        )
        if perms is not None:
            return perms
        # Reaching one environment of a project lets the caller see the project around it
        # and list environments there (the list itself only holds those they reach).
        statement = (
            select(Environment.id)
            .where(
                Environment.project_id == scope.project_id,
                Environment.id.in_(linked_environment_ids(uid)),
            )
            .limit(1)
        )
        reaches_environment = await self._cached(
            ("reach", uid, scope.project_id), lambda: self.session.scalar(statement))
        if reaches_environment is None:
            return None
        self._partial_projects.add(scope.project_id)
        return frozenset({"project:read", "environment:read"})

    def _bounded_by_creator(
        self, principal: Principal, creator: frozenset[str] | None
    ) -> frozenset[str] | None:
        """A project token holds what its role and its creator both hold, now."""
        return None if creator is None else self.token_permissions(principal) & creator

    @staticmethod
    def _creator_left() -> Unauthenticated:
        # Every use of such a token ends here: say why rather than answer 404 to everything.
        return Unauthenticated(
            "The token is no longer valid: its creator no longer has access to its project."
        )

    async def _project_permissions(
        self, principal: Principal, project: Project, org_owner_id: int | None
    ) -> frozenset[str] | None:
        scope = _ProjectScope(project.id, project.user_id, project.organization_id, org_owner_id)
        if not principal.is_project_token:
            return await self._user_project_permissions(principal.user_id, scope)
        if principal.project_id != project.id:
            return None
        creator = await self._user_project_permissions(principal.user_id, scope)
        if creator is None:
            raise self._creator_left()
        return self._bounded_by_creator(principal, creator)

    async def _org_owner_id(self, project: Project) -> int | None:
        if project.organization_id is None:
            return None
        statement = select(Organization.owner_id).where(
            Organization.id == project.organization_id)
        owner_id: int | None = await self._cached(
            ("org_owner", project.organization_id), lambda: self.session.scalar(statement))
        return owner_id

    async def project_permissions(
        self, principal: Principal, project: Project
    ) -> frozenset[str] | None:
        return await self._project_permissions(
            principal, project, await self._org_owner_id(project)
        )

    async def creator_permissions(self, user_id: int, project: Project) -> frozenset[str]:
        """What a person (a project token's creator) holds in a project now."""
        scope = _ProjectScope(
            project.id, project.user_id, project.organization_id,
            await self._org_owner_id(project),
        )
        return await self._user_project_permissions(user_id, scope) or frozenset()

    async def creator_environment_permissions(
        self, user_id: int | None, project: Project, environment_id: int
    ) -> frozenset[str]:
        """What a person (the creator of a hook that fires later) holds in one environment now."""
        if user_id is None:
            return frozenset()
        scope = _ProjectScope(
            project.id, project.user_id, project.organization_id,
            await self._org_owner_id(project),
        )
        return await self._user_environment_permissions(user_id, environment_id, scope) or (
            frozenset()
        )

    async def _user_environment_permissions(
        self, uid: int, environment_id: int, scope: _ProjectScope
    ) -> frozenset[str] | None:
        if uid in (scope.owner_id, scope.org_owner_id):
            return ALL_PERMISSIONS
        return await self._team_permissions(
            uid,
            organization_id=scope.organization_id,
            project_id=scope.project_id,
            environment_id=environment_id,
        )

    async def _environment_permissions(
        self,
        principal: Principal,
        environment: Environment,
        project_owner_id: int,
        organization_id: int | None,
        org_owner_id: int | None,
    ) -> frozenset[str] | None:
        scope = _ProjectScope(
            environment.project_id, project_owner_id, organization_id, org_owner_id
        )
        if not principal.is_project_token:
            return await self._user_environment_permissions(
                principal.user_id, environment.id, scope
            )
        if principal.project_id != environment.project_id:
            return None
        creator = await self._user_environment_permissions(
            principal.user_id, environment.id, scope
        )
        if creator is None and await self._user_project_permissions(
            principal.user_id, scope
        ) is None:
            raise self._creator_left()
        return self._bounded_by_creator(principal, creator)

    async def _environment_row(
        self, principal: Principal, environment_id: int
    ) -> tuple[Environment | None, frozenset[str] | None]:
        row = (
            await self.session.execute(
                select(Environment, Project.user_id, Project.organization_id, Organization.owner_id)
                .join(Project, Project.id == Environment.project_id)
                .outerjoin(Organization, Organization.id == Project.organization_id)
                .where(Environment.id == environment_id)
            )
        ).one_or_none()
        if row is None:
            return None, None
        return row[0], await self._environment_permissions(principal, *row)

    async def _owner_permissions(
        self, principal: Principal, organization_id: int | None, project_id: int | None
    ) -> frozenset[str] | None:
        """The caller's permissions at what owns a team or role: its organization, else its
        project (None when there is neither or the caller cannot see it)."""
        if organization_id is not None:
            organization = await self.session.get(Organization, organization_id)
            if organization is None:
                return None
            return await self.organization_permissions(principal, organization)
        if project_id is not None:
            project = await self.session.get(Project, project_id)
            if project is None:
                return None
            return await self.project_permissions(principal, project)
        return None

    async def held_at(self, principal: Principal, link: TeamLink) -> frozenset[str]:
        """The caller's permissions where a team link points (its organization, project or
        environment; nothing where they cannot see it): what they may hand out there."""
        permissions: frozenset[str] | None = None
        if link.organization_id is not None or link.project_id is not None:
            permissions = await self._owner_permissions(
                principal, link.organization_id, link.project_id
            )
        elif link.environment_id is not None:
            _, permissions = await self._environment_row(principal, link.environment_id)
        return permissions or frozenset()

    async def team_permissions(self, principal: Principal, team: Team) -> frozenset[str] | None:
        owner_permissions = await self._owner_permissions(
            principal, team.organization_id, team.project_id
        )
        if principal.is_project_token:
            return owner_permissions
        is_member = await self.session.scalar(
            select(TeamMember.user_id).where(
                TeamMember.team_id == team.id, TeamMember.user_id == principal.user_id
            )
        )
        if is_member is None:
            return owner_permissions
        return (owner_permissions or frozenset()) | {"team:read"}

    async def role_permissions(self, principal: Principal, role: Role) -> frozenset[str] | None:
        if role.organization_id is None and role.project_id is None:
            # Predefined roles are shared by every tenant: everyone reads them, nobody edits them.
            return frozenset({"role:read"})
        return await self._owner_permissions(principal, role.organization_id, role.project_id)

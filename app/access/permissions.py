"""The authorization layer's checks: every endpoint asks the `Authorizer` whether a caller
may touch a resource.

A resource the caller cannot see answers 404 (existence is never revealed); one the caller
can see but not change answers 403. What the caller holds at a scope is resolved in
`app.access.scopes` (ownership, team links, project tokens bounded by their creator); the
permissions themselves are the catalogue in `app.access.catalogue`; what the caller may
list is `app.access.visibility`. Delegation: nobody grants (in a role, a team link, an
invitation into a linked team or a token) a permission they do not hold at that scope:
`ensure_grantable`.

Entry points (`organization`, `project`, `environment`, `team`, `role`) load the target,
raise NotFound/Forbidden, and remember the caller's permission set on the returned object
(`current_user_permissions`). List endpoints start from `readable_*` statements (or the
`*_condition` WHERE clauses, `readable_environment_ids` for any table with an
`environment_id`), so a list can only ever contain what the caller may see.

Resources inside an environment (servers, applications, ...) authorize through their
environment: `await authorizer.environment(p, row.environment_id, "server:update",
not_found="Server not found.")`. A visible environment without the permission is a 403.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.sql.base import ExecutableOption

from app.access import visibility
from app.access.auth import Principal
from app.access.catalogue import permission_verb
from app.access.scopes import PermissionResolver
from app.core.database import CallerPermissionsMixin
from app.core.errors import Forbidden, NotFound
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.teams.models import Team, TeamMember

MAX_ID = 2**31 - 1

_Row = TypeVar("_Row", bound=CallerPermissionsMixin)


class Authorizer(PermissionResolver):
    """Decides, per request, what the calling principal may see and do: list statements
    scoped to the caller, and entry points that load a target and check one permission
    against what `PermissionResolver` says the caller holds there."""

    # ------------------------------------------------------------------ statements

    def project_condition(self, principal: Principal) -> ColumnElement[bool]:
        """WHERE clause on `Project` limiting rows to those the caller may see."""
        return visibility.project_condition(visibility.who(principal))

    def environment_condition(self, principal: Principal) -> ColumnElement[bool]:
        """WHERE clause on `Environment` limiting rows to those the caller may see."""
        return visibility.environment_condition(visibility.who(principal))

    def organization_condition(self, principal: Principal) -> ColumnElement[bool]:
        return visibility.organization_condition(visibility.who(principal))

    def team_condition(self, principal: Principal) -> ColumnElement[bool]:
        """Teams whose owner (organization or project) the caller sees, or that they are in."""
        org_ids = select(Organization.id).where(self.organization_condition(principal))
        whole_projects = visibility.full_project_access(visibility.who(principal))
        project_ids = select(Project.id).where(whole_projects)
        visible = or_(Team.organization_id.in_(org_ids), Team.project_id.in_(project_ids))
        if principal.is_project_token:
            return visible
        member_of = select(TeamMember.team_id).where(TeamMember.user_id == principal.user_id)
        return or_(visible, Team.id.in_(member_of))

    def readable_projects(self, principal: Principal) -> Select[Project]:
        return select(Project).where(self.project_condition(principal))

    def readable_environments(self, principal: Principal) -> Select[Environment]:
        return select(Environment).where(self.environment_condition(principal))

    def environments_of(self, principal: Principal, project: Project) -> Select[Environment]:
        """Environments of a project already checked with `project()`, as the caller sees them.

        Whoever reaches the project as a whole sees all its environments, so the visibility
        filter is only added for callers who reach some environments through team links.
        """
        stmt = select(Environment).where(Environment.project_id == project.id)
        if not self.sees_whole_project(project):
            stmt = stmt.where(self.environment_condition(principal))
        return stmt

    def sees_whole_project(self, project: Project) -> bool:
        """Whether the caller of `project()` reaches every environment of it (else only
        those their team links reach: `environments_of` filters them)."""
        return project.id not in self._partial_projects

    def readable_environment_ids(self, principal: Principal) -> Select[int]:
        """For other domains: `Model.environment_id.in_(authorizer.readable_environment_ids(p))`."""
        return select(Environment.id).where(self.environment_condition(principal))

    def readable_organizations(self, principal: Principal) -> Select[Organization]:
        return select(Organization).where(self.organization_condition(principal))

    def readable_teams(self, principal: Principal) -> Select[Team]:
        return select(Team).where(self.team_condition(principal))

    @staticmethod
    def ensure_grantable(
        granted: Iterable[str], held: Iterable[str], *, already: Iterable[str] = ()
    ) -> None:
        """Delegation: what a caller hands out (a role's permissions, in a role, a team link,
        an invitation or a token) must be held by the caller at that scope. Permissions the
        grant `already` gave are not handed out anew (renaming a role changes nothing)."""
        beyond = sorted(set(granted) - set(already) - set(held))
        if beyond:
            listed = ", ".join(beyond[:5]) + (", ..." if len(beyond) > 5 else "")
            raise Forbidden(f"You cannot grant permissions you do not hold here: {listed}.")

    # ------------------------------------------------------------------ entry points

    @staticmethod
    def _check(
        permissions: frozenset[str] | None, permission: str, not_found: str
    ) -> frozenset[str]:
        if permissions is None:
            raise NotFound(not_found)
        if permission not in permissions:
            raise Forbidden(f"You are not allowed to {permission_verb(permission)} here.")
        return permissions

    def _granted(
        self, row: _Row | None, permissions: frozenset[str] | None, permission: str,
        not_found: str,
    ) -> _Row:
        """`row`, with the caller's permissions there remembered on it, if they hold
        `permission` there (404 when they cannot see it, else 403)."""
        held = self._check(permissions, permission, not_found)
        assert row is not None
        row.remember_permissions(held)
        return row

    async def organization(
        self, principal: Principal, key: str | int, permission: str
    ) -> Organization:
        """The organization (by id or URL slug) if visible (else 404) and `permission` held."""
        organization: Organization | None
        if isinstance(key, int) or key.isdigit():
            # An id no database integer can hold names nothing (and must not reach SQL).
            number = int(key)
            organization = (
                await self.session.get(Organization, number) if number <= MAX_ID else None
            )
        else:
            organization = await self.session.scalar(
                select(Organization).where(Organization.url_slug == key)
            )
        permissions = (
            await self.organization_permissions(principal, organization)
            if organization is not None
            else None
        )
        return self._granted(organization, permissions, permission, "Organization not found.")

    async def project(
        self,
        principal: Principal,
        project_id: int,
        permission: str,
        *,
        not_found: str = "Project not found.",
        options: Sequence[ExecutableOption] = (),
    ) -> Project:
        """The project if the caller may see it (else 404) and holds `permission` (else 403);
        `options` load what the caller will present with it in the same statement."""
        project, _ = await self.project_with(
            principal, project_id, permission, not_found=not_found, options=options)
        return project

    async def project_with(
        self,
        principal: Principal,
        project_id: int,
        permission: str,
        *,
        columns: Sequence[ColumnElement[Any]] = (),
        not_found: str = "Project not found.",
        options: Sequence[ExecutableOption] = (),
    ) -> tuple[Project, tuple[Any, ...]]:
        """`project()`, with `columns` (expressions correlated to the project, such as counts
        of what it holds) read in the same statement; they are returned only once access is
        granted."""
        row = (
            await self.session.execute(
                select(Project, Organization.owner_id, *columns)
                .outerjoin(Organization, Organization.id == Project.organization_id)
                .where(Project.id == project_id)
                .options(*options)
            )
        ).one_or_none()
        permissions = None
        if row is not None:
            permissions = await self._project_permissions(principal, row[0], row[1])
        project: Project | None = row[0] if row is not None else None
        granted = self._granted(project, permissions, permission, not_found)
        assert row is not None
        return granted, tuple(row[2:])

    async def environment(
        self,
        principal: Principal,
        environment_id: int,
        permission: str,
        *,
        not_found: str = "Environment not found.",
    ) -> Environment:
        """The environment if visible (else 404) and `permission` is held there (else 403).

        Resources inside an environment call this with their own permission and message,
        e.g. `authorizer.environment(p, server.environment_id, "server:update",
        not_found="Server not found.")`.
        """
        environment, permissions = await self._environment_row(principal, environment_id)
        return self._granted(environment, permissions, permission, not_found)

    async def loaded_environment(
        self,
        principal: Principal,
        environment: Environment,
        permission: str,
        *,
        not_found: str = "Environment not found.",
    ) -> Environment:
        """`environment()` for an environment read in this transaction with its project and
        the project's organization (a resource's joined relations): no second read."""
        project = environment.project
        organization = project.organization
        permissions = await self._environment_permissions(
            principal, environment, project.user_id, project.organization_id,
            organization.owner_id if organization is not None else None)
        return self._granted(environment, permissions, permission, not_found)

    async def team(self, principal: Principal, team_id: int, permission: str) -> Team:
        team = await self.session.get(Team, team_id)
        permissions = await self.team_permissions(principal, team) if team is not None else None
        return self._granted(team, permissions, permission, "Team not found.")

    async def role(self, principal: Principal, role_id: int, permission: str) -> Role:
        role = await self.session.get(Role, role_id)
        permissions = await self.role_permissions(principal, role) if role is not None else None
        self._check(permissions, permission, "Role not found.")
        assert role is not None
        return role

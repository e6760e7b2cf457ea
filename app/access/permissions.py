"""The authorization layer: every endpoint asks here whether a caller may touch a resource.

A resource the caller cannot see answers 404 (existence is never revealed); one the caller
can see but not change answers 403. What a caller may do is decided from:

- ownership: the owner of a project, or of the organization a project belongs to, holds
  every permission on it and on everything inside it;
- team links: a team linked to an organization, project or environment with a role gives
  its members that role's permissions there (and below it); several links add up;
- project API tokens: their own project only, and there at most what both their role and
  their creator hold right now (checked on every use, so a token shrinks with its creator
  and has nothing once its creator has lost the project), never the user-only
  permissions (`api_token:*`);
- delegation: nobody grants (in a role, a team link, an invitation into a linked team or a
  token) a permission they do not hold at that scope: `ensure_grantable`.

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

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.core.errors import Forbidden, NotFound, Unauthenticated
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.teams.models import Team, TeamLink, TeamMember


@dataclass(frozen=True)
class Operation:
    name: str
    human_readable: str
    hint: str


@dataclass(frozen=True)
class ResourcePermissions:
    resource_type: str
    human_readable: str
    operations: tuple[Operation, ...]


_CRUD = (
    Operation("read", "View", "See {plural} and their details"),
    Operation("create", "Add", "Add new {plural}"),
    Operation("update", "Edit", "Change existing {plural}"),
    Operation("delete", "Remove", "Delete {plural}"),
)
_EXTRA = {
    "deploy": Operation("deploy", "Deploy", "Deploy {plural} to their servers"),
    "start": Operation("start", "Start", "Start {plural}"),
    "stop": Operation("stop", "Stop", "Stop {plural}"),
    "restart": Operation("restart", "Restart", "Restart {plural}"),
    "reload": Operation("reload", "Reload", "Reload the configuration of {plural}"),
    "get-status": Operation("get-status", "Get status", "Refresh the status of {plural}"),
    "rotate-key": Operation("rotate-key", "Rotate key", "Replace the SSH key of {plural}"),
    "archive": Operation("archive", "Archive", "Archive and unarchive {plural}"),
    "retry": Operation("retry", "Retry", "Retry failed {plural}"),
    "trigger": Operation("trigger", "Trigger", "Trigger {plural}"),
}

# resource type -> (human readable, plural for hints, operations beyond read/create/update/delete)
_RESOURCES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("organization", "Organization", "organizations", ()),
    ("project", "Project", "projects", ()),
    ("environment", "Environment", "environments", ("archive",)),
    ("team", "Team", "teams", ()),
    ("role", "Role", "roles", ()),
    ("api_token", "API Token", "API tokens", ()),
    (
        "server",
        "Server",
        "servers",
        ("deploy", "start", "stop", "restart", "get-status", "rotate-key"),
    ),
    ("application", "Application", "applications", ("deploy",)),
    (
        "service",
        "Service",
        "services",
        ("deploy", "start", "stop", "restart", "reload", "get-status"),
    ),
    ("daemon", "Daemon", "daemons", ("deploy", "start", "stop", "restart", "get-status")),
    ("cronjob", "Cron Job", "cron jobs", ("deploy",)),
    ("credential", "Credential", "credentials", ("get-status",)),
    ("network", "Network", "networks", ("get-status",)),
    ("network-rule", "Network Rule", "network rules", ("deploy",)),
    ("subnet", "Subnet", "subnets", ()),
    ("ssh-key", "SSH Key", "SSH keys", ("deploy",)),
    ("ssl-certificate", "SSL Certificate", "SSL certificates", ("deploy",)),
    ("virtual-host", "Virtual Host", "virtual hosts", ("deploy", "get-status")),
    ("variable", "Variable", "variables", ()),
    ("pipeline", "Pipeline", "pipelines", ()),
    ("hook", "Hook", "hooks", ("trigger",)),
    ("action", "Action", "actions", ("retry",)),
)


def _build_catalogue() -> tuple[ResourcePermissions, ...]:
    out = []
    for resource_type, human, plural, extra in _RESOURCES:
        ops = tuple(
            Operation(op.name, op.human_readable, op.hint.format(plural=plural))
            for op in (*_CRUD, *(_EXTRA[name] for name in extra))
        )
        out.append(ResourcePermissions(resource_type, human, ops))
    return tuple(out)


CATALOGUE: tuple[ResourcePermissions, ...] = _build_catalogue()
"""The single permission catalogue: `GET /static/permissions` serves it, roles draw from it."""

ALL_PERMISSIONS: frozenset[str] = frozenset(
    f"{r.resource_type}:{op.name}" for r in CATALOGUE for op in r.operations
)

# Operations that only a person may perform, whatever a token's role says: a token that
# could mint tokens could escalate its own rights.
USER_ONLY_PERMISSIONS = frozenset(
    {"api_token:create", "api_token:read", "api_token:update", "api_token:delete"}
)

MAX_ID = 2**31 - 1

OPERATE = ("deploy", "start", "stop", "restart", "reload", "get-status", "trigger", "retry")

READ_PERMISSIONS = frozenset(p for p in ALL_PERMISSIONS if p.endswith(":read"))
DEPLOY_PERMISSIONS = READ_PERMISSIONS | frozenset(
    p for p in ALL_PERMISSIONS if p.split(":", 1)[1] in OPERATE
)


# Action types that need another operation's permission: taking a resource off its servers
# is part of deleting it.
_OPERATION_PERMISSION_ALIASES = {"remove": "delete"}


def operation_permission(resource_type: str, operation: str) -> str:
    """The one permission an operation on a resource needs (`get_status` ->
    `server:get-status`), whether it is started, run from a pipeline, retried or cancelled.
    Operations the catalogue does not name (provision, configure...) change the resource."""
    name = operation.replace("_", "-")
    permission = f"{resource_type}:{_OPERATION_PERMISSION_ALIASES.get(name, name)}"
    return permission if permission in ALL_PERMISSIONS else f"{resource_type}:update"


def required_permissions(permission: str) -> list[str]:
    """Acting on a resource type presupposes seeing it."""
    resource_type, operation = permission.split(":", 1)
    return [] if operation == "read" else [f"{resource_type}:read"]


def unknown_permissions(permissions: Iterable[str]) -> list[str]:
    return sorted(set(permissions) - ALL_PERMISSIONS)


def _verb(permission: str) -> str:
    resource_type, _, operation = permission.partition(":")
    return f"{operation} {resource_type.replace('_', ' ').replace('-', ' ')}"


class _ProjectScope(NamedTuple):
    """Who owns a project, as the permission rules need it."""

    project_id: int
    owner_id: int
    organization_id: int | None
    org_owner_id: int | None


class Authorizer:
    """Decides, per request, what the calling principal may see and do."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Projects the caller reaches only through some of their environments.
        self._partial_projects: set[int] = set()

    # ------------------------------------------------------------------ statements

    @staticmethod
    def _member_links(user_id: int) -> Select[TeamLink]:
        return select(TeamLink).join(
            TeamMember,
            and_(TeamMember.team_id == TeamLink.team_id, TeamMember.user_id == user_id),
        )

    @staticmethod
    def _linked_environment_ids(user_id: int) -> Select[int | None]:
        links = Authorizer._member_links(user_id).subquery()
        return select(links.c.environment_id).where(links.c.environment_id.is_not(None))

    def project_condition(self, principal: Principal) -> ColumnElement[bool]:
        """WHERE clause on `Project` limiting rows to those the caller may see."""
        return _project_condition(_who(principal))

    def environment_condition(self, principal: Principal) -> ColumnElement[bool]:
        """WHERE clause on `Environment` limiting rows to those the caller may see."""
        return _environment_condition(_who(principal))

    def organization_condition(self, principal: Principal) -> ColumnElement[bool]:
        return _organization_condition(_who(principal))

    def team_condition(self, principal: Principal) -> ColumnElement[bool]:
        """Teams whose owner (organization or project) the caller sees, or that they are in."""
        org_ids = select(Organization.id).where(self.organization_condition(principal))
        project_ids = select(Project.id).where(_full_project_access(_who(principal)))
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
        if project.id in self._partial_projects:
            stmt = stmt.where(self.environment_condition(principal))
        return stmt

    def readable_environment_ids(self, principal: Principal) -> Select[int]:
        """For other domains: `Model.environment_id.in_(authorizer.readable_environment_ids(p))`."""
        return select(Environment.id).where(self.environment_condition(principal))

    def readable_organizations(self, principal: Principal) -> Select[Organization]:
        return select(Organization).where(self.organization_condition(principal))

    def readable_teams(self, principal: Principal) -> Select[Team]:
        return select(Team).where(self.team_condition(principal))

    # ------------------------------------------------------------------ permission sets

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
        member = await self.session.scalar(
            select(func.count()).where(
                Team.organization_id == organization.id,
                Team.id.in_(
                    select(TeamMember.team_id).where(TeamMember.user_id == principal.user_id)
                ),
            )
        )
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
        reaches_environment = await self.session.scalar(
            select(Environment.id)
            .where(
                Environment.project_id == scope.project_id,
                Environment.id.in_(self._linked_environment_ids(uid)),
            )
            .limit(1)
        )
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
        owner_id: int | None = await self.session.scalar(
            select(Organization.owner_id).where(Organization.id == project.organization_id)
        )
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
            raise Forbidden(f"You are not allowed to {_verb(permission)} here.")
        return permissions

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
        self._check(permissions, permission, "Organization not found.")
        assert organization is not None and permissions is not None
        organization.remember_permissions(permissions)
        return organization

    async def project(
        self,
        principal: Principal,
        project_id: int,
        permission: str,
        *,
        not_found: str = "Project not found.",
    ) -> Project:
        """The project if the caller may see it (else 404) and holds `permission` (else 403)."""
        row = (
            await self.session.execute(
                select(Project, Organization.owner_id)
                .outerjoin(Organization, Organization.id == Project.organization_id)
                .where(Project.id == project_id)
            )
        ).one_or_none()
        permissions = None
        if row is not None:
            permissions = await self._project_permissions(principal, row[0], row[1])
        self._check(permissions, permission, not_found)
        assert row is not None and permissions is not None
        project: Project = row[0]
        project.remember_permissions(permissions)
        return project

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
        self._check(permissions, permission, not_found)
        assert environment is not None and permissions is not None
        environment.remember_permissions(permissions)
        return environment

    async def held_at(
        self,
        principal: Principal,
        *,
        organization_id: int | None = None,
        project_id: int | None = None,
        environment_id: int | None = None,
    ) -> frozenset[str]:
        """The caller's permissions at one organization, project or environment (nothing
        where they cannot see it): what they may hand out there."""
        permissions: frozenset[str] | None = None
        if organization_id is not None:
            organization = await self.session.get(Organization, organization_id)
            if organization is not None:
                permissions = await self.organization_permissions(principal, organization)
        elif project_id is not None:
            project = await self.session.get(Project, project_id)
            if project is not None:
                permissions = await self.project_permissions(principal, project)
        elif environment_id is not None:
            _, permissions = await self._environment_row(principal, environment_id)
        return permissions or frozenset()

    async def team_permissions(self, principal: Principal, team: Team) -> frozenset[str] | None:
        owner_permissions: frozenset[str] | None = None
        if team.organization_id is not None:
            organization = await self.session.get(Organization, team.organization_id)
            if organization is not None:
                owner_permissions = await self.organization_permissions(principal, organization)
        elif team.project_id is not None:
            project = await self.session.get(Project, team.project_id)
            if project is not None:
                owner_permissions = await self.project_permissions(principal, project)
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

    async def team(self, principal: Principal, team_id: int, permission: str) -> Team:
        team = await self.session.get(Team, team_id)
        permissions = await self.team_permissions(principal, team) if team is not None else None
        self._check(permissions, permission, "Team not found.")
        assert team is not None and permissions is not None
        team.remember_permissions(permissions)
        return team

    async def role_permissions(self, principal: Principal, role: Role) -> frozenset[str] | None:
        if role.organization_id is not None:
            organization = await self.session.get(Organization, role.organization_id)
            if organization is None:
                return None
            return await self.organization_permissions(principal, organization)
        if role.project_id is not None:
            project = await self.session.get(Project, role.project_id)
            if project is None:
                return None
            return await self.project_permissions(principal, project)
        # Predefined roles are shared by every tenant: everyone reads them, nobody edits them.
        return frozenset({"role:read"})

    async def role(self, principal: Principal, role_id: int, permission: str) -> Role:
        role = await self.session.get(Role, role_id)
        permissions = await self.role_permissions(principal, role) if role is not None else None
        self._check(permissions, permission, "Role not found.")
        assert role is not None
        return role


# ---- visibility conditions, built once per caller identity --------------------------
#
# Every request builds one or more of these (about a millisecond each: the subqueries'
# column collections are costly to set up). They depend only on who asks, never on data
# (memberships are read by the database when the statement runs), and SQLAlchemy
# expressions are immutable, so one object serves every request of the same caller.


class _Who(NamedTuple):
    is_project_token: bool
    user_id: int
    project_id: int | None


def _who(principal: Principal) -> _Who:
    return _Who(principal.is_project_token, principal.user_id, principal.project_id)


def _creator(who: _Who) -> _Who:
    """The person behind a project token: what they see bounds what the token sees."""
    return _Who(False, who.user_id, None)


@functools.lru_cache(maxsize=1024)
def _full_project_access(who: _Who) -> ColumnElement[bool]:
    """Projects the caller reaches as a whole (all their environments)."""
    if who.is_project_token:
        return and_(Project.id == who.project_id, _full_project_access(_creator(who)))
    uid = who.user_id
    links = Authorizer._member_links(uid).subquery()
    return or_(
        Project.user_id == uid,
        Project.organization_id.in_(select(Organization.id).where(Organization.owner_id == uid)),
        Project.organization_id.in_(
            select(links.c.organization_id).where(links.c.organization_id.is_not(None))
        ),
        Project.id.in_(select(links.c.project_id).where(links.c.project_id.is_not(None))),
    )


@functools.lru_cache(maxsize=1024)
def _project_condition(who: _Who) -> ColumnElement[bool]:
    if who.is_project_token:
        return and_(Project.id == who.project_id, _project_condition(_creator(who)))
    via_environment = Project.id.in_(
        select(Environment.project_id).where(
            Environment.id.in_(Authorizer._linked_environment_ids(who.user_id))
        )
    )
    return or_(_full_project_access(who), via_environment)


@functools.lru_cache(maxsize=1024)
def _environment_condition(who: _Who) -> ColumnElement[bool]:
    if who.is_project_token:
        return and_(
            Environment.project_id == who.project_id, _environment_condition(_creator(who))
        )
    return or_(
        Environment.project_id.in_(select(Project.id).where(_full_project_access(who))),
        Environment.id.in_(Authorizer._linked_environment_ids(who.user_id)),
    )


@functools.lru_cache(maxsize=1024)
def _organization_condition(who: _Who) -> ColumnElement[bool]:
    if who.is_project_token:
        return false()
    links = Authorizer._member_links(who.user_id).subquery()
    return or_(
        Organization.owner_id == who.user_id,
        Organization.id.in_(
            select(links.c.organization_id).where(links.c.organization_id.is_not(None))
        ),
        Organization.id.in_(_organizations_of_teams(who.user_id)),
    )


def _organizations_of_teams(user_id: int) -> Select[int | None]:
    """Organizations one of whose teams the person is a member of: joining a team (an
    accepted invitation) makes its organization visible, as the invitation guide says,
    though only the team's links grant more than seeing it."""
    return (
        select(Team.organization_id)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == user_id, Team.organization_id.is_not(None))
    )

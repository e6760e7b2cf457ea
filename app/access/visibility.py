"""What a caller may see, as SQL: the WHERE clauses every list starts from.

`Authorizer.project_condition`, `readable_projects` and the other list statements of
`app.access.permissions` are built from these conditions; a project token sees at most
what its creator sees.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from sqlalchemy import ColumnElement, Select, and_, false, or_, select

from app.access.auth import Principal
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.teams.models import Team, TeamLink, TeamMember


def member_links(user_id: int) -> Select[TeamLink]:
    """The team links of every team the person is a member of."""
    return select(TeamLink).join(
        TeamMember,
        and_(TeamMember.team_id == TeamLink.team_id, TeamMember.user_id == user_id),
    )


def linked_environment_ids(user_id: int) -> Select[int | None]:
    """Environments the person reaches through a team link to the environment itself."""
    links = member_links(user_id).subquery()
    return select(links.c.environment_id).where(links.c.environment_id.is_not(None))


# ---- visibility conditions, built once per caller identity --------------------------
#
# Every request builds one or more of these (about a millisecond each: the subqueries'
# column collections are costly to set up). They depend only on who asks, never on data
# (memberships are read by the database when the statement runs), and SQLAlchemy
# expressions are immutable, so one object serves every request of the same caller.


class Who(NamedTuple):
    is_project_token: bool
    user_id: int
    project_id: int | None


def who(principal: Principal) -> Who:
    return Who(principal.is_project_token, principal.user_id, principal.project_id)


def _creator(caller: Who) -> Who:
    """The person behind a project token: what they see bounds what the token sees."""
    return Who(False, caller.user_id, None)


@functools.lru_cache(maxsize=1024)
def full_project_access(caller: Who) -> ColumnElement[bool]:
    """Projects the caller reaches as a whole (all their environments)."""
    if caller.is_project_token:
        return and_(Project.id == caller.project_id, full_project_access(_creator(caller)))
    uid = caller.user_id
    links = member_links(uid).subquery()
    return or_(
        Project.user_id == uid,
        Project.organization_id.in_(select(Organization.id).where(Organization.owner_id == uid)),
        Project.organization_id.in_(
            select(links.c.organization_id).where(links.c.organization_id.is_not(None))
        ),
        Project.id.in_(select(links.c.project_id).where(links.c.project_id.is_not(None))),
    )


@functools.lru_cache(maxsize=1024)
def project_condition(caller: Who) -> ColumnElement[bool]:
    if caller.is_project_token:
        return and_(Project.id == caller.project_id, project_condition(_creator(caller)))
    via_environment = Project.id.in_(
        select(Environment.project_id).where(
            Environment.id.in_(linked_environment_ids(caller.user_id))
        )
    )
    return or_(full_project_access(caller), via_environment)


@functools.lru_cache(maxsize=1024)
def environment_condition(caller: Who) -> ColumnElement[bool]:
    if caller.is_project_token:
        return and_(
            Environment.project_id == caller.project_id, environment_condition(_creator(caller))
        )
    return or_(
        Environment.project_id.in_(select(Project.id).where(full_project_access(caller))),
        Environment.id.in_(linked_environment_ids(caller.user_id)),
    )


@functools.lru_cache(maxsize=1024)
def organization_condition(caller: Who) -> ColumnElement[bool]:
    if caller.is_project_token:
        return false()
    links = member_links(caller.user_id).subquery()
    return or_(
        Organization.owner_id == caller.user_id,
        Organization.id.in_(
            select(links.c.organization_id).where(links.c.organization_id.is_not(None))
        ),
        Organization.id.in_(_organizations_of_teams(caller.user_id)),
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

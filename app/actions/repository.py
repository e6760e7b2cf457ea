"""All SQL of actions and pipelines; every read starts from a tenant-scoped statement.

`mark_unstarted_failed` is the one write shared by the API (a cancel) and the engine
(a crash, a dead worker): it needs no principal."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.elements import BindParameter

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.actions.listeners import ActionFinished, announce_after_commit, apply_outcome
from app.actions.models import (
    FINISHED,
    Action,
    ActionLogChunk,
    ActionStatus,
    ActionStep,
    ActionTarget,
    Pipeline,
    ReasonCode,
)
from app.core.database import utcnow
from app.core.pagination import PageParams, paginate
from app.environments.models import Environment
from app.organizations.models import Organization
from app.projects.models import Project
from app.users.models import User


class ActionShown(NamedTuple):
    # None when `known` holds the answer.
    action: Action | None
    # (target row, its step rows in order): plain rows, not tracked ORM objects; empty
    # when `known` holds the answer.
    targets: list[tuple[Any, list[Any]]]
    # A finished action's answer as given before, still current (app.actions.answers).
    known: Any = None
    # A finished action's version of everything its answer shows (see `answer_version`);
    # None for an action still running, whose answer is not kept.
    version: tuple[Any, ...] | None = None


def _plain(table: Any, *names: str) -> list[Any]:
    return [table.c[name] for name in names]


def _tuple_type(name: str, statement: Select[Any]) -> Any:
    """A named tuple of the statement's columns: SQLAlchemy's `Row._asdict` works its keys
    out anew for each row (4 us), a named tuple's knows them (under 1 us), and an action's
    answer turns hundreds of rows into dicts."""
    return namedtuple(name, [c.name for c in statement.selected_columns])


_ACTION_ID: BindParameter[int] = bindparam("action_id")
# What an answer shows of targets and steps (their schemas' fields, and the message their
# reason's label reads): a step's command, remote process details and log bookkeeping,
# and the engine's own columns, are not read (a hundred targets have hundreds of steps).
_TARGET_ROWS = (
    select(*_plain(ActionTarget.__table__, "id", "resource_type", "resource_id", "status",
                   "status_reason_code", "status_message", "resource_data", "total_steps",
                   "current_step_order", "started_at", "completed_at", "created_at",
                   "updated_at"))
    .where(ActionTarget.__table__.c.action_id == _ACTION_ID)
    .order_by(ActionTarget.__table__.c.id)
)
_STEP_ROWS = (
    select(*_plain(ActionStep.__table__, "id", "action_id", "action_target_id", "order", "name",
                   "description", "status", "status_reason_code", "status_message",
                   "started_at", "completed_at", "created_at", "updated_at"))
    .where(ActionStep.__table__.c.action_id == _ACTION_ID)
    .order_by(ActionStep.__table__.c.action_target_id, ActionStep.__table__.c.order)
)
_TargetRow = _tuple_type("TargetRow", _TARGET_ROWS)
_StepRow = _tuple_type("StepRow", _STEP_ROWS)

_STEPS = ActionStep.__table__
_TARGETS = ActionTarget.__table__
_ACTIONS = Action.__table__


def _answer_version() -> Select[Any]:
    """What changes whenever anything an action's answer shows does: the action's own row,
    the rows of each relation it shows (its project and environment with their
    organization and creator, the user who started it, the action it retries), and the
    count and newest `updated_at` of its retries, targets and steps. Every write to these
    rows sets their updated_at (TimestampMixin's onupdate, Core updates included); a
    removed row, or a reference the database sets to NULL, turns its column NULL."""
    projects, environments = Project.__table__, Environment.__table__
    organizations, users = Organization.__table__, User.__table__
    project, environment = projects.alias("shown_project"), environments.alias("shown_env")
    env_project = projects.alias("shown_env_project")
    joined = _ACTIONS.outerjoin(project, project.c.id == _ACTIONS.c.project_id).outerjoin(
        environment, environment.c.id == _ACTIONS.c.environment_id).outerjoin(
        env_project, env_project.c.id == environment.c.project_id)
    stamps = [_ACTIONS.c.updated_at, project.c.updated_at, environment.c.updated_at,
              env_project.c.updated_at]
    for owner, name in ((project, "project"), (env_project, "env_project")):
        organization = organizations.alias(f"shown_{name}_org")
        creator = users.alias(f"shown_{name}_creator")
        joined = joined.outerjoin(organization, organization.c.id == owner.c.organization_id
                                  ).outerjoin(creator, creator.c.id == owner.c.created_by)
        stamps += [organization.c.updated_at, creator.c.updated_at]
    by, parent = users.alias("shown_by"), _ACTIONS.alias("shown_parent")
    joined = joined.outerjoin(by, by.c.id == _ACTIONS.c.triggered_by).outerjoin(
        parent, parent.c.id == _ACTIONS.c.retry_of)
    stamps += [by.c.updated_at, parent.c.updated_at]
    children = _ACTIONS.alias("shown_child")
    counted = [
        (children, children.c.retry_of),
        (_TARGETS, _TARGETS.c.action_id),
        (_STEPS, _STEPS.c.action_id),
    ]
    aggregates = [
        select(aggregate).where(key == _ACTION_ID).scalar_subquery()
        for table, key in counted
        for aggregate in (func.count(), func.max(table.c.updated_at))
    ]
    return (select(_ACTIONS.c.status, *stamps, *aggregates).select_from(joined)
            .where(_ACTIONS.c.id == _ACTION_ID))


# Built once: a statement reused as it is keeps its cache key, which SQLAlchemy would
# otherwise work out again on every read (it walks every join).
_ANSWER_VERSION = _answer_version()


def _visible(
    authorizer: Authorizer, principal: Principal, environment_id: Any, project_id: Any
) -> ColumnElement[bool]:
    """Rows of environments the caller reaches (or, without environment, of their projects)."""
    projects = select(Project.id).where(authorizer.project_condition(principal))
    return or_(
        environment_id.in_(authorizer.readable_environment_ids(principal)),
        and_(environment_id.is_(None), project_id.in_(projects)),
    )


def _action_options(*, targets: bool = True, joined_children: bool = False) -> list[Any]:
    # Many-to-one relations join into the action's SELECT; collections load in one
    # statement each, but for one action its few retries (`joined_children`) join too.
    environment = joinedload(Action.environment).joinedload(Environment.project)
    return [
        environment.joinedload(Project.organization),
        environment.joinedload(Project.created_by_user),
        *([selectinload(Action.targets).selectinload(ActionTarget.steps)] if targets else []),
        joinedload(Action.project).joinedload(Project.organization),
        joinedload(Action.project).joinedload(Project.created_by_user),
        joinedload(Action.triggered_by_user),
        joinedload(Action.parent),
        joinedload(Action.children) if joined_children else selectinload(Action.children),
    ]


class ActionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.authorizer = Authorizer(session)

    def readable(self, principal: Principal, *, targets: bool = True) -> Select[Action]:
        return (
            select(Action)
            .where(_visible(self.authorizer, principal, Action.environment_id, Action.project_id))
            .options(*_action_options(targets=targets))
        )

    async def answer_version(self, principal: Principal, action_id: int, *,
                             checked: bool = False) -> tuple[Any, ...] | None:
        """The action's status and the version of its answer (see `_answer_version`);
        None when the caller may not read it. `checked`: the caller's access to it was
        already checked."""
        stmt = _ANSWER_VERSION if checked else _ANSWER_VERSION.where(
            _visible(self.authorizer, principal, _ACTIONS.c.environment_id,
                     _ACTIONS.c.project_id))
        row = (await self.session.execute(stmt, {"action_id": action_id})).first()
        return None if row is None else tuple(row)

    async def get_shown(self, action_id: int) -> Action | None:
        """An action's row with the relations its answer shows, for a caller already known
        to read it (`answer_version`); its targets and steps are read by `target_rows`."""
        result = await self.session.execute(
            select(Action).where(Action.id == action_id)
            .options(*_action_options(targets=False, joined_children=True))
            .execution_options(populate_existing=True))
        action: Action | None = result.unique().scalar_one_or_none()
        return action

    async def target_rows(self, action_id: int) -> list[tuple[Any, list[Any]]]:
        """An action's targets with their steps, in order, as plain rows (read for an
        answer only, never written back: building hundreds of tracked ORM objects cost
        more than everything else in the read)."""
        targets = [_TargetRow._make(row) for row in await self.session.execute(
            _TARGET_ROWS, {"action_id": action_id})]
        steps: dict[int, list[Any]] = {}
        for row in await self.session.execute(_STEP_ROWS, {"action_id": action_id}):
            step = _StepRow._make(row)
            steps.setdefault(step.action_target_id, []).append(step)
        return [(t, steps.get(t.id, [])) for t in targets]

    async def get_readable(self, principal: Principal, action_id: int) -> Action | None:
        stmt = self.readable(principal).where(Action.id == action_id)
        action: Action | None = await self.session.scalar(
            stmt.execution_options(populate_existing=True)
        )
        return action

    async def readable_status(self, principal: Principal, action_id: int) -> str | None:
        """The status of an action the caller may read (None: none such), without loading
        its targets and steps."""
        return await self.session.scalar(
            select(Action.status).where(
                Action.id == action_id,
                _visible(self.authorizer, principal, Action.environment_id, Action.project_id),
            )
        )

    async def get_full(self, action_id: int) -> Action | None:
        stmt = select(Action).where(Action.id == action_id).options(*_action_options())
        return await self.session.scalar(stmt.execution_options(populate_existing=True))

    async def list(
        self, principal: Principal, page: PageParams, **filters: Any
    ) -> Sequence[Action]:
        stmt = self.readable(principal)
        for column, value in filters.items():
            if value is not None:
                stmt = stmt.where(getattr(Action, column) == value)
        return await paginate(self.session, stmt.order_by(Action.id.desc()), page)

    async def list_by_target(
        self, principal: Principal, page: PageParams, resource_type: str, resource_id: int
    ) -> Sequence[Action]:
        targeted = select(ActionTarget.action_id).where(
            ActionTarget.resource_type == resource_type, ActionTarget.resource_id == resource_id
        )
        stmt = self.readable(principal).where(Action.id.in_(targeted))
        return await paginate(self.session, stmt.order_by(Action.id.desc()), page)

    async def step(self, action_id: int, target_id: int, order: int) -> ActionStep | None:
        return await self.session.scalar(
            select(ActionStep).where(
                ActionStep.action_id == action_id,
                ActionStep.action_target_id == target_id,
                ActionStep.order == order,
            )
        )

    async def target(self, action_id: int, target_id: int) -> ActionTarget | None:
        return await self.session.scalar(
            select(ActionTarget).where(
                ActionTarget.action_id == action_id, ActionTarget.id == target_id
            )
        )

    async def log_chunks(
        self, step_id: int, after_seq: int, limit: int
    ) -> Sequence[ActionLogChunk]:
        stmt = (
            select(ActionLogChunk)
            .where(ActionLogChunk.action_step_id == step_id, ActionLogChunk.seq > after_seq)
            .order_by(ActionLogChunk.seq)
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()


class PipelineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.authorizer = Authorizer(session)

    def _readable(self, principal: Principal) -> Select[Pipeline]:
        return (
            select(Pipeline)
            .where(
                _visible(self.authorizer, principal, Pipeline.environment_id, Pipeline.project_id)
            )
            .options(joinedload(Pipeline.created_by_user), selectinload(Pipeline.steps))
        )

    async def get_readable(self, principal: Principal, pipeline_id: int) -> Pipeline | None:
        stmt = self._readable(principal).where(Pipeline.id == pipeline_id)
        pipeline: Pipeline | None = await self.session.scalar(
            stmt.execution_options(populate_existing=True)
        )
        return pipeline

    async def list_for_resource(
        self, principal: Principal, page: PageParams, resource_type: str, resource_id: int
    ) -> Sequence[Pipeline]:
        stmt = self._readable(principal).where(
            Pipeline.resource_type == resource_type, Pipeline.resource_id == resource_id
        )
        return await paginate(self.session, stmt.order_by(Pipeline.id), page)

    async def for_resource(self, resource_type: str, resource_id: int) -> Sequence[Pipeline]:
        stmt = select(Pipeline).where(
            Pipeline.resource_type == resource_type, Pipeline.resource_id == resource_id
        )
        return (await self.session.scalars(stmt)).all()

    async def default_for(
        self, resource_type: str, resource_id: int, operation: str
    ) -> Pipeline | None:
        stmt = (
            select(Pipeline)
            .where(
                Pipeline.resource_type == resource_type,
                Pipeline.resource_id == resource_id,
                Pipeline.operation == operation,
            )
            .order_by(Pipeline.is_default.desc(), Pipeline.id)
            .limit(1)
        )
        return await self.session.scalar(stmt)


async def mark_unstarted_failed(
    session: AsyncSession, action_id: int, message: str, *, now: datetime | None = None
) -> None:
    """Finish an action that never ran (or whose worker vanished): nothing is left open."""
    now = now or utcnow()
    open_states = [s.value for s in ActionStatus if s not in FINISHED]
    await session.execute(
        update(ActionStep)
        .where(ActionStep.action_id == action_id, ActionStep.status == ActionStatus.IN_PROGRESS)
        .values(status=ActionStatus.FAILED, status_reason_code=ReasonCode.FAILED,
                status_message=message, completed_at=now)
    )
    await session.execute(
        update(ActionStep)
        .where(ActionStep.action_id == action_id, ActionStep.status.in_(open_states))
        .values(status=ActionStatus.SKIPPED, status_reason_code=ReasonCode.SKIPPED,
                status_message=None, completed_at=now)
    )
    await session.execute(
        update(ActionTarget)
        .where(ActionTarget.action_id == action_id, ActionTarget.status.in_(open_states))
        .values(status=ActionStatus.FAILED, status_reason_code=ReasonCode.FAILED,
                status_message=message, completed_at=now)
    )
    finished = (
        await session.execute(
            update(Action)
            .where(Action.id == action_id, Action.status.in_(open_states))
            .values(status=ActionStatus.FAILED, status_reason_code=ReasonCode.FAILED,
                    status_message=message, completed_at=now, updated_at=now)
            .returning(Action.type, Action.resource_type, Action.resource_id,
                       Action.pipeline_id)
        )
    ).one_or_none()
    if finished is not None:
        # The resource must not stay "provisioning" (say) for an action that will never run.
        event = ActionFinished(
            action_id=action_id, status=ActionStatus.FAILED.value,
            action_type=finished.type, resource_type=finished.resource_type,
            resource_id=finished.resource_id, pipeline_id=finished.pipeline_id, ran=False,
        )
        await apply_outcome(session, event)
        announce_after_commit(session, event)

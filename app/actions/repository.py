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
from app.projects.models import Project


class ActionShown(NamedTuple):
    action: Action
    # (target row, its step rows in order): plain rows, not tracked ORM objects; empty
    # when `known` holds their answer.
    targets: list[tuple[Any, list[Any]]]
    # A finished action's targets as answered before, still current (app.actions.answers).
    known: Any = None
    # A finished action's version of its targets and steps (see `targets_version`).
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
# Every write to a target or a step sets its updated_at (TimestampMixin's onupdate, Core
# updates included) and none removes one: the count and the newest updated_at of each
# change with any of them, so an answer kept under this version is still the rows'.
_TARGETS_VERSION = select(
    select(func.count()).where(_TARGETS.c.action_id == _ACTION_ID).scalar_subquery(),
    select(func.max(_TARGETS.c.updated_at)).where(_TARGETS.c.action_id == _ACTION_ID)
    .scalar_subquery(),
    select(func.count()).where(_STEPS.c.action_id == _ACTION_ID).scalar_subquery(),
    select(func.max(_STEPS.c.updated_at)).where(_STEPS.c.action_id == _ACTION_ID)
    .scalar_subquery(),
)


def _visible(
    authorizer: Authorizer, principal: Principal, environment_id: Any, project_id: Any
) -> ColumnElement[bool]:
    """Rows of environments the caller reaches (or, without environment, of their projects)."""
    projects = select(Project.id).where(authorizer.project_condition(principal))
    return or_(
        environment_id.in_(authorizer.readable_environment_ids(principal)),
        and_(environment_id.is_(None), project_id.in_(projects)),
    )


def _action_options(*, targets: bool = True) -> list[Any]:
    # Many-to-one relations join into the action's SELECT; collections load in one
    # statement each.
    environment = joinedload(Action.environment).joinedload(Environment.project)
    return [
        environment.joinedload(Project.organization),
        environment.joinedload(Project.created_by_user),
        *([selectinload(Action.targets).selectinload(ActionTarget.steps)] if targets else []),
        joinedload(Action.project).joinedload(Project.organization),
        joinedload(Action.project).joinedload(Project.created_by_user),
        joinedload(Action.triggered_by_user),
        joinedload(Action.parent),
        selectinload(Action.children),
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

    async def get_shown(self, principal: Principal, action_id: int | None = None, *,
                        readable_id: int | None = None) -> Action | None:
        """An action's row with the relations its answer shows; its targets and steps are
        read by `target_rows`. `readable_id` skips the visibility check for an action
        already checked."""
        if readable_id is None:
            stmt = self.readable(principal, targets=False).where(Action.id == action_id)
        else:
            stmt = select(Action).where(Action.id == readable_id).options(
                *_action_options(targets=False))
        action: Action | None = await self.session.scalar(
            stmt.execution_options(populate_existing=True))
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

    async def targets_version(self, action_id: int) -> tuple[Any, ...]:
        """What changes whenever any of the action's targets or steps does (one statement
        of four aggregates over indexed rows)."""
        return tuple((await self.session.execute(
            _TARGETS_VERSION, {"action_id": action_id})).one())

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

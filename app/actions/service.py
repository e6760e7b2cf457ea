"""`ActionService`: reading actions and listing them (everywhere they are listed: all the
caller reads, by resource, by target, per project, environment or pipeline), retrying
what failed in a finished one and cancelling one that has not finished. Actions start
in `app.actions.start`; pipelines have their own service (`app.actions.pipeline_service`).

Services flush; the request commits; dispatch happens only after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.catalogue import operation_permission
from app.access.permissions import Authorizer
from app.actions.answers import FinishedAnswers
from app.actions.models import FINISHED, Action, ActionStatus, ActionStep, ActionTarget
from app.actions.repository import ActionRepository, ActionShown, mark_unstarted_failed
from app.actions.retry import start_retry
from app.actions.scope import authorize_resource, authorize_scope, readable_pipeline
from app.core.database import utcnow
from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams


class ActionService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.actions = ActionRepository(session)
        self.authorizer = Authorizer(session)

    async def get(self, principal: Principal, action_id: int) -> Action:
        action = await self.actions.get_readable(principal, action_id)
        if action is None:
            raise NotFound("Action not found.")
        return action

    async def shown(self, principal: Principal, action_id: int | None = None, *,
                    readable_id: int | None = None,
                    finished: FinishedAnswers | None = None) -> ActionShown:
        """The action as its answer shows it; a finished one's answer from `finished` when
        it holds it for the current version. `readable_id`: an action the caller was
        already found to read."""
        shown_id = readable_id if readable_id is not None else action_id
        assert shown_id is not None
        # The version is read before the rows: a write in between leaves newer rows under
        # an older version, which the next read no longer matches (never the reverse).
        version = await self.actions.answer_version(principal, shown_id,
                                                    checked=readable_id is not None)
        if version is None:
            raise NotFound("Action not found.")
        if finished is None or version[0] not in FINISHED:
            version = None
        else:
            known = finished.get(shown_id, version)
            if known is not None:
                return ActionShown(None, [], known, version)
        action = await self.actions.get_shown(shown_id)
        if action is None:
            raise NotFound("Action not found.")
        return ActionShown(action, await self.actions.target_rows(action.id), None, version)

    async def readable_status(self, principal: Principal, action_id: int) -> str:
        status = await self.actions.readable_status(principal, action_id)
        if status is None:
            raise NotFound("Action not found.")
        return status

    async def status(self, action_id: int) -> str | None:
        return await self.session.scalar(select(Action.status).where(Action.id == action_id))

    async def reload(self, action_id: int) -> Action:
        action = await self.actions.get_full(action_id)
        if action is None:
            raise NotFound("Action not found.")
        return action

    async def list(
        self, principal: Principal, page: PageParams, **filters: Any
    ) -> Sequence[Action]:
        return await self.actions.list(principal, page, **filters)

    async def list_by_target(
        self, principal: Principal, page: PageParams, resource_type: str, resource_id: int
    ) -> Sequence[Action]:
        await authorize_resource(
            self.session, principal, resource_type, resource_id, "action:read", as_target=True
        )
        return await self.actions.list_by_target(principal, page, resource_type, resource_id)

    async def list_by_resource(
        self, principal: Principal, page: PageParams, resource_type: str, resource_id: int
    ) -> Sequence[Action]:
        await authorize_resource(self.session, principal, resource_type, resource_id,
                                 "action:read")
        return await self.actions.list(
            principal, page, resource_type=resource_type, resource_id=resource_id
        )

    async def list_for_project(
        self, principal: Principal, page: PageParams, project_id: int, **filters: Any
    ) -> Sequence[Action]:
        await self.authorizer.project(principal, project_id, "action:read")
        return await self.actions.list(principal, page, project_id=project_id, **filters)

    async def list_for_environment(
        self, principal: Principal, page: PageParams, environment_id: int, **filters: Any
    ) -> Sequence[Action]:
        await self.authorizer.environment(principal, environment_id, "action:read")
        return await self.actions.list(principal, page, environment_id=environment_id, **filters)

    async def list_for_pipeline(
        self, principal: Principal, page: PageParams, pipeline_id: int
    ) -> Sequence[Action]:
        await readable_pipeline(self.session, principal, pipeline_id, "pipeline:read")
        return await self.actions.list(principal, page, pipeline_id=pipeline_id)

    async def step_for_log(
        self, principal: Principal, action_id: int, target_id: int, order: int
    ) -> tuple[ActionTarget, ActionStep]:
        await self.get(principal, action_id)
        target = await self.actions.target(action_id, target_id)
        step = await self.actions.step(action_id, target_id, order) if target else None
        if target is None or step is None:
            raise NotFound("Action step not found.")
        return target, step

    async def _check_operation(self, principal: Principal, action: Action, *also: str) -> None:
        """Retrying or cancelling an action is performing its operation on its resource:
        the same permission as starting it (a token refused `stop` cannot retry a `stop`),
        plus what acting on the action itself needs."""
        for permission in (*also, operation_permission(action.resource_type, action.type)):
            await authorize_scope(
                self.authorizer, principal, action, permission, "Action not found."
            )

    async def retry(self, principal: Principal, action_id: int) -> Action:
        original = await self.get(principal, action_id)
        await self._check_operation(principal, original, "action:retry")
        if original.status not in FINISHED:
            raise Conflict("Only a finished action can be retried.")
        failed = [t for t in original.targets if t.status == ActionStatus.FAILED]
        if not failed:
            raise Conflict("The action has nothing that failed to retry.")
        action = await start_retry(self.session, principal, original, failed)
        return await self.reload(action.id)

    async def cancel(self, principal: Principal, action_id: int) -> Action:
        action = await self.get(principal, action_id)
        await self._check_operation(principal, action)
        if action.status in FINISHED:
            raise Conflict("The action has already finished.")
        now = utcnow()
        await self.session.execute(
            update(Action)
            .where(Action.id == action_id, Action.cancel_requested_at.is_(None))
            .values(cancel_requested_at=now)
        )
        # Not claimed by a worker yet: finish it here; a running one is stopped by its worker.
        claimed = await self.session.scalar(
            select(func.count()).select_from(Action).where(
                Action.id == action_id,
                Action.status.in_(
                    [ActionStatus.PENDING, ActionStatus.QUEUED, ActionStatus.WAITING]
                ),
            )
        )
        if claimed:
            await mark_unstarted_failed(self.session, action_id, "Cancelled before it started.")
        await self.session.flush()
        return await self.reload(action_id)



"""Who may see and act on actions and pipelines: each belongs to an environment (or, with
none, a project), found for a resource from its domain or from our own rows, and checked
through the `Authorizer`. Something the caller cannot see is a 404, something visible
without the permission a 403."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.actions import catalog
from app.actions.models import Action, ActionTarget, Pipeline
from app.actions.repository import PipelineRepository
from app.actions.targets import ResourceScope, scope_resolver
from app.core.errors import NotFound


class Scoped(Protocol):
    """What an action, a pipeline or a resource's scope says about where it lives."""

    @property
    def environment_id(self) -> int | None: ...

    @property
    def project_id(self) -> int | None: ...


async def authorize_scope(
    authorizer: Authorizer, principal: Principal, scoped: Scoped, permission: str,
    not_found: str,
) -> None:
    """404 unless the caller sees the environment (or project); 403 without `permission`."""
    if scoped.environment_id is not None:
        await authorizer.environment(
            principal, scoped.environment_id, permission, not_found=not_found
        )
    elif scoped.project_id is not None:
        await authorizer.project(principal, scoped.project_id, permission, not_found=not_found)
    else:
        raise NotFound(not_found)


async def find_resource_scope(
    session: AsyncSession, resource_type: str, resource_id: int, *, as_target: bool = False
) -> ResourceScope | None:
    """The environment/project of a resource: from its domain, else from our own rows."""
    resolver = scope_resolver(resource_type)
    if resolver is not None:
        return await resolver(session, resource_id)
    row = (
        await session.execute(
            select(Pipeline.environment_id, Pipeline.project_id, Pipeline.organization_id)
            .where(Pipeline.resource_type == resource_type, Pipeline.resource_id == resource_id)
            .order_by(Pipeline.id)
            .limit(1)
        )
    ).first()
    if row is None:
        stmt = select(Action.environment_id, Action.project_id, Action.organization_id)
        if as_target:
            stmt = stmt.join(ActionTarget, ActionTarget.action_id == Action.id).where(
                ActionTarget.resource_type == resource_type,
                ActionTarget.resource_id == resource_id,
            )
        else:
            stmt = stmt.where(
                Action.resource_type == resource_type, Action.resource_id == resource_id
            )
        row = (await session.execute(stmt.order_by(Action.id).limit(1))).first()
    if row is None:
        return None
    return ResourceScope(environment_id=row[0], project_id=row[1], organization_id=row[2])


async def authorize_resource(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    resource_id: int,
    permission: str,
    *,
    as_target: bool = False,
) -> ResourceScope:
    not_found = f"{catalog.resource_label(resource_type)} not found."
    if resource_type not in catalog.RESOURCE_TYPES:
        raise NotFound(not_found)
    scope = await find_resource_scope(session, resource_type, resource_id, as_target=as_target)
    if scope is None:
        raise NotFound(not_found)
    await authorize_scope(Authorizer(session), principal, scope, permission, not_found)
    return scope


async def readable_pipeline(
    session: AsyncSession, principal: Principal, pipeline_id: int, permission: str
) -> Pipeline:
    """A pipeline the caller sees and holds `permission` on, its steps loaded."""
    pipeline = await PipelineRepository(session).get_readable(principal, pipeline_id)
    if pipeline is None:
        raise NotFound("Pipeline not found.")
    await authorize_scope(
        Authorizer(session), principal, pipeline, permission, "Pipeline not found."
    )
    return pipeline

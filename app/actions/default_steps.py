"""What a resource's operations run by default: the step templates each domain registers
per operation (and per variant, say cloud servers), the default pipelines made from them
with the resource (or on first use), and the resource's pipelines deleted with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import catalog
from app.actions.models import Pipeline, PipelineStep
from app.actions.repository import PipelineRepository

# Steps' trigger orders are this far apart, so one can be moved between two others.
STEP_ORDER_GAP = 1000


@dataclass(frozen=True)
class StepTemplate:
    """A default step of a resource operation's pipeline, registered by its domain."""

    name: str
    command: str
    run_as_user: str | None = None
    timeout_seconds: int = 600
    description: str | None = None


# (resource type, operation, variant) -> steps; variant None is the default.
_default_steps: dict[tuple[str, str, str | None], tuple[StepTemplate, ...]] = {}
VariantResolver = Callable[[AsyncSession, int], Awaitable[str | None]]
_variants: dict[str, VariantResolver] = {}


def register_default_steps(
    resource_type: str, operation: str, steps: Sequence[StepTemplate],
    *, variant: str | None = None,
) -> None:
    """What a resource operation runs by default (domains call this at import time).
    A `variant` (say "cloud" for servers) applies to the resources the type's variant
    resolver puts in it; the others get the default steps."""
    _default_steps[(resource_type, operation, variant)] = tuple(steps)


def register_variant_resolver(resource_type: str, resolver: VariantResolver) -> None:
    _variants[resource_type] = resolver


def has_default_steps(resource_type: str, operation: str) -> bool:
    return any(key[:2] == (resource_type, operation) for key in _default_steps)


async def _templates(
    session: AsyncSession, resource_type: str, resource_id: int, operation: str
) -> tuple[StepTemplate, ...]:
    resolver = _variants.get(resource_type)
    variant = await resolver(session, resource_id) if resolver else None
    if variant is not None and (resource_type, operation, variant) in _default_steps:
        return _default_steps[(resource_type, operation, variant)]
    return _default_steps.get((resource_type, operation, None), ())


async def ensure_default_pipelines(
    session: AsyncSession,
    resource_type: str,
    resource_id: int,
    *,
    project_id: int | None,
    environment_id: int | None = None,
    organization_id: int | None = None,
    created_by: int | None = None,
    operations: Sequence[str] | None = None,
) -> list[Pipeline]:
    """Create the default pipeline of each operation of a resource (idempotent)."""
    if operations is None:
        operations = catalog.DEFAULT_OPERATIONS.get(resource_type, ())
    ops = operations
    existing = {
        p.operation
        for p in await PipelineRepository(session).for_resource(resource_type, resource_id)
        if p.is_default
    }
    created: list[Pipeline] = []
    for operation in ops:
        if operation in existing:
            continue
        pipeline = Pipeline(
            name=f"{catalog.humanize(operation)} {catalog.resource_label(resource_type)}"[:80],
            resource_type=resource_type,
            resource_id=resource_id,
            operation=operation,
            max_parallel_actions=0,
            is_default=True,
            environment_id=environment_id,
            project_id=project_id,
            organization_id=organization_id,
            created_by=created_by,
        )
        session.add(pipeline)
        await session.flush()
        templates = await _templates(session, resource_type, resource_id, operation)
        for n, template in enumerate(templates, 1):
            session.add(
                PipelineStep(
                    pipeline_id=pipeline.id,
                    name=template.name,
                    description=template.description,
                    command=template.command,
                    runner="custom",
                    run_as_user=template.run_as_user,
                    trigger_order=n * STEP_ORDER_GAP,
                    timeout_seconds=template.timeout_seconds,
                    is_auto_generated=True,
                    is_default_step=True,
                )
            )
        created.append(pipeline)
    await session.flush()
    return created


async def delete_resource_pipelines(
    session: AsyncSession, resource_type: str, resource_id: int
) -> None:
    """With its resource: every pipeline of it (steps and hooks follow by cascade). Past
    actions stay as history, their `pipeline_id` cleared."""
    await session.execute(
        delete(Pipeline).where(
            Pipeline.resource_type == resource_type, Pipeline.resource_id == resource_id
        )
    )

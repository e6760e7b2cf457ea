"""The resource types other domains make addressable by `/resource-links` and `/events`.

Servers, applications and the rest live in other packages: each registers its type once at
import time with `register_resource_type`, giving how to authorize one resource for a
caller and how to describe many (for link listings). Pairs that may be linked by users are
declared with `register_link_rule(parent_type, child_type)`.

For a model with `id`, `name` and `environment_id` columns, `environment_resource_type`
builds both callables:

    register_resource_type(environment_resource_type("server", "Server", Server,
                                                      name_column=Server.hostname))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.core.errors import NotFound
from app.environments.models import Environment
from app.projects.models import Project


@dataclass(frozen=True)
class ResourceRef:
    """What links and events need to know about one resource."""

    resource_type: str
    id: int
    name: str
    environment_id: int | None
    environment_name: str | None
    project_id: int | None
    project_name: str | None
    created_at: datetime | None
    updated_at: datetime | None


# authorize(session, principal, resource_id, operation) -> ResourceRef; raises NotFound or
# Forbidden exactly as the resource's own endpoints would.
Authorize = Callable[[AsyncSession, Principal, int, str], Awaitable[ResourceRef]]
Describe = Callable[[AsyncSession, Sequence[int]], Awaitable[dict[int, ResourceRef]]]


@dataclass(frozen=True)
class ResourceType:
    name: str
    human_readable: str
    authorize: Authorize
    describe: Describe


_TYPES: dict[str, ResourceType] = {}
_LINK_RULES: set[tuple[str, str]] = set()


def register_resource_type(resource_type: ResourceType) -> None:
    _TYPES[resource_type.name] = resource_type


def register_link_rule(parent_type: str, child_type: str) -> None:
    """Users may link a `child_type` resource under a `parent_type` resource."""
    _LINK_RULES.add((parent_type, child_type))


def unregister_link_rule(parent_type: str, child_type: str) -> None:
    _LINK_RULES.discard((parent_type, child_type))


def resource_type(name: str) -> ResourceType:
    found = _TYPES.get(name)
    if found is None:
        raise NotFound(f"Unknown resource type '{name[:40]}'.")
    return found


def registered_types() -> list[str]:
    return sorted(_TYPES)


def link_allowed(parent_type: str, child_type: str) -> bool:
    return (parent_type, child_type) in _LINK_RULES


def environment_resource_type(
    name: str,
    human_readable: str,
    model: Any,
    *,
    name_column: InstrumentedAttribute[Any] | None = None,
) -> ResourceType:
    """A resource type for a model that belongs to one environment."""
    label = name_column if name_column is not None else model.name
    not_found = f"{human_readable} not found."

    async def describe(session: AsyncSession, ids: Sequence[int]) -> dict[int, ResourceRef]:
        if not ids:
            return {}
        rows = await session.execute(
            select(
                model.id,
                label,
                model.environment_id,
                Environment.name,
                Environment.project_id,
                Project.name,
                model.created_at,
                model.updated_at,
            )
            .join(Environment, Environment.id == model.environment_id)
            .join(Project, Project.id == Environment.project_id)
            .where(model.id.in_(list(ids)))
        )
        return {
            row[0]: ResourceRef(name, row[0], str(row[1]), row[2], row[3], row[4], row[5],
                                row[6], row[7])
            for row in rows.all()
        }

    async def authorize(
        session: AsyncSession, principal: Principal, resource_id: int, operation: str
    ) -> ResourceRef:
        environment_id = await session.scalar(
            select(model.environment_id).where(model.id == resource_id)
        )
        if environment_id is None:
            raise NotFound(not_found)
        await Authorizer(session).environment(
            principal, environment_id, f"{name}:{operation}", not_found=not_found
        )
        described = await describe(session, [resource_id])
        return described[resource_id]

    return ResourceType(name, human_readable, authorize, describe)

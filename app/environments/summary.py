"""What lives inside an environment: counted for `resource_summary`, and blocking deletion.

Each resource family registers its model's `environment_id` column once, at import time
(e.g. in its models module), and is then counted here in one SQL query per environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.schemas import ResourceCount, ResourceSummaryItem


@dataclass(frozen=True)
class EnvironmentResource:
    resource_type: str
    plural: str
    human_readable: str
    human_readable_plural: str
    environment_column: InstrumentedAttribute[Any]


_REGISTRY: dict[str, EnvironmentResource] = {}


def register_environment_resource(resource: EnvironmentResource) -> None:
    _REGISTRY[resource.resource_type] = resource


def summary_item(
    resource_type: str, plural: str, human: str, human_plural: str, count: int
) -> ResourceSummaryItem:
    return ResourceSummaryItem(
        resource_type=resource_type,
        resource_type_plural=plural,
        resource_type_human_readable=human,
        resource_type_human_readable_plural=human_plural,
        summary=ResourceCount(count=count),
    )


async def environment_summary(
    session: AsyncSession, environment_id: int
) -> list[ResourceSummaryItem]:
    resources = list(_REGISTRY.values())
    if not resources:
        return []
    counts = union_all(
        *(
            select(
                literal(r.resource_type).label("resource_type"),
                func.count().label("n"),
            )
            .select_from(r.environment_column.class_)
            .where(r.environment_column == environment_id)
            for r in resources
        )
    )
    found = {row.resource_type: int(row.n) for row in (await session.execute(counts)).all()}
    return [
        summary_item(
            r.resource_type,
            r.plural,
            r.human_readable,
            r.human_readable_plural,
            found.get(r.resource_type, 0),
        )
        for r in resources
    ]

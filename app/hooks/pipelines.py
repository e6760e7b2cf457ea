"""How hooks find the pipeline they belong to.

Pipelines live in the actions package, above hooks: `app.wiring` registers the lookup at
start-up (`register_pipeline_lookup`). Without one no pipeline can be found, and the
pipeline hook routes answer 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class PipelineRef:
    id: int
    environment_id: int
    project_id: int
    resource_type: str
    resource_id: int
    # The operation the pipeline runs (deploy, restart...): the hook's `action_type`.
    action_type: str


PipelineLookup = Callable[[AsyncSession, int], Awaitable[PipelineRef | None]]

_lookup: PipelineLookup | None = None


def register_pipeline_lookup(lookup: PipelineLookup | None) -> None:
    global _lookup
    _lookup = lookup


async def find_pipeline(session: AsyncSession, pipeline_id: int) -> PipelineRef | None:
    if _lookup is None:
        return None
    return await _lookup(session, pipeline_id)

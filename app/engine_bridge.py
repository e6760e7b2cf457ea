"""The one place this package starts work on the action engine.

The engine lands on its own branch; until it is merged, starting an action answers 409
with a clear message instead of pretending that something runs. At merge time the body of
`start_resource_action` becomes a call to the engine's `start_action(...)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import Conflict


class EngineUnavailable(Conflict):
    default_message = (
        "This operation runs as an action, and the action engine is not available on this "
        "server yet."
    )


@dataclass(frozen=True)
class TriggeredFrom:
    """Who or what asked for the action: a person (principal) or an incoming hook."""

    ip_address: str | None
    principal: Principal | None = None
    hook_id: str | None = None
    hook_request_id: str | None = None
    origin: str | None = None


async def start_resource_action(
    session: AsyncSession,
    *,
    resource_type: str,
    resource_id: int,
    action_type: str,
    triggered_from: TriggeredFrom,
    pipeline_id: int | None = None,
    variables: dict[str, object] | None = None,
) -> int:
    """Create an action (dispatched after commit) and return its id."""
    raise EngineUnavailable(
        f"Cannot start '{action_type}' on {resource_type} {resource_id}: the action engine is "
        "not available on this server yet."
    )

"""The one place resource operations start actions.

Endpoints call `start_operation`; it checks the resource can run the operation and hands
it to the action engine. Until the engine lands it refuses with 409: an operation must
never look like it succeeded when nothing will run.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import Conflict, ValidationFailed
from app.resources_common.links import servers_for

ACTION_ID_HEADER = "X-Devopness-Action-Id"

ENGINE_UNAVAILABLE = (
    "The action engine is not available yet on this server: the {operation} operation "
    "of {resource_type} {resource_id} was not started."
)


async def check_target_servers(
    session: AsyncSession,
    resource_type: str,
    resource_id: int,
    requested: Sequence[int] | None,
) -> list[int]:
    """The servers an operation targets: the requested ones, which must be linked to the
    resource, or all linked servers when none are named."""
    linked = await servers_for(session, resource_type, resource_id)
    if requested is None:
        return linked
    unknown = sorted(set(requested) - set(linked))
    if unknown:
        raise ValidationFailed.field(
            "servers",
            "The servers field must list servers linked to this resource; not linked: "
            + ", ".join(str(s) for s in unknown)
            + ".",
        )
    return list(dict.fromkeys(requested))


async def start_operation(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    resource_id: int,
    operation: str,
    *,
    servers: Sequence[int] | None = None,
    trigger_comment: str | None = None,
) -> int:
    """Create the action for `operation` on the resource; returns the action id.

    Wiring the engine: replace the `raise` below with
    `return await start_action(session, principal, resource_type, resource_id, operation,
    servers=targets, trigger_comment=trigger_comment)`.
    """
    targets = await check_target_servers(session, resource_type, resource_id, servers)
    del targets, trigger_comment, principal
    raise Conflict(
        ENGINE_UNAVAILABLE.format(
            operation=operation, resource_type=resource_type, resource_id=resource_id
        )
    )

"""The one place resource operations start actions.

Endpoints call `start_operation`; it checks which servers the operation targets and hands
the operation to the action engine's single entry point, `start_action`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.service import ensure_default_pipelines, start_action
from app.core.auth import Principal
from app.core.errors import ValidationFailed
from app.resources_common.links import servers_for

ACTION_ID_HEADER = "X-Devopness-Action-Id"

def engine_action_type(operation: str) -> str:
    """Route segments and permissions say `get-status`; the engine's action types are
    `get_status`."""
    return operation.replace("-", "_")


async def check_target_servers(
    session: AsyncSession,
    resource_type: str,
    resource_id: int,
    requested: Sequence[int] | None,
) -> list[int]:
    """The servers an operation targets: the requested ones, which must be servers the
    resource runs on, or all of them when none are named. None at all is a 422."""
    linked = await servers_for(session, resource_type, resource_id)
    if requested is None:
        targets = linked
    else:
        unknown = sorted(set(requested) - set(linked))
        if unknown:
            raise ValidationFailed.field(
                "servers",
                "The servers field must list servers this resource runs on; not linked: "
                + ", ".join(str(s) for s in unknown)
                + ".",
            )
        targets = list(dict.fromkeys(requested))
    if not targets:
        raise ValidationFailed.field(
            "servers", "The resource is not linked to any server; link it to a server first."
        )
    return targets


async def start_operation(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    resource_id: int,
    operation: str,
    *,
    environment_id: int,
    project_id: int,
    servers: Sequence[int] | None = None,
    trigger_comment: str | None = None,
) -> int:
    """Create the action for `operation` on the resource; returns the action id (dispatched
    once the request commits)."""
    targets = await check_target_servers(session, resource_type, resource_id, servers)
    await ensure_default_pipelines(
        session, resource_type, resource_id, project_id=project_id,
        environment_id=environment_id, created_by=principal.user_id,
    )
    action = await start_action(
        session,
        resource_type=resource_type,
        resource_id=resource_id,
        operation=engine_action_type(operation),
        triggered_by=principal,
        project_id=project_id,
        environment_id=environment_id,
        server_ids=targets,
        trigger_comment=trigger_comment,
    )
    return action.id

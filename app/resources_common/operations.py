"""The one place resource operations start actions.

Endpoints call `start_operation`; it hands the operation to the action engine's single
entry point, `start_action`, which resolves and checks the target servers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.actions.start import start_action
from app.resources_common import links

ACTION_ID_HEADER = "X-Devopness-Action-Id"


def engine_action_type(operation: str) -> str:
    """Route segments and permissions say `get-status`; the engine's action types are
    `get_status`."""
    return operation.replace("-", "_")


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
    action_data: dict[str, Any] | None = None,
    pipeline_id: int | None = None,
) -> int:
    """Create the action for `operation` on the resource; returns the action id (dispatched
    once the request commits). `servers` narrows the targets to some of the servers the
    resource runs on; the engine refuses (422 on `servers`) any other, or none at all.
    `pipeline_id` (already resolved through `EnvironmentAccess.reference`) replaces the
    operation's default pipeline. A deploy first links the servers it names (each must be
    in the environment), and an application's first deploy links the environment's only
    server."""
    if operation == "deploy":
        await links.link_deploy_targets(
            session, resource_type, resource_id, environment_id, servers,
            link_first_server=resource_type == "application",
        )
    action = await start_action(
        session,
        resource_type=resource_type,
        resource_id=resource_id,
        operation=engine_action_type(operation),
        triggered_by=principal,
        project_id=project_id,
        environment_id=environment_id,
        server_ids=servers,
        trigger_comment=trigger_comment,
        action_data=action_data,
        pipeline_id=pipeline_id,
    )
    return action.id

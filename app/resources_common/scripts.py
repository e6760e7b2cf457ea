"""What the `remote` modules of environment resources share: the row a context builder
starts from, and default pipelines of one built-in script step per operation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.default_steps import StepTemplate, register_default_steps
from app.resources_common.models import EnvironmentResource

R = TypeVar("R", bound=EnvironmentResource)

# operation -> (step name, script under workers/scripts/, timeout in seconds)
ScriptSteps = Mapping[str, tuple[str, str, int]]


async def resource_for(
    session: AsyncSession, model: type[R], request: builtins.RunRequest, label: str
) -> R:
    """The resource a step runs for; one deleted since the action started fails the step."""
    resource = await session.get(model, request.resource_id)
    if resource is None:
        raise builtins.ContextUnavailable(f"{label} {request.resource_id} no longer exists.")
    return resource


def register_script_steps(resource_type: str, steps: ScriptSteps) -> None:
    """Each operation's default pipeline: one step that runs the operation's script."""
    for operation, (name, script, timeout) in steps.items():
        register_default_steps(resource_type, operation, [
            StepTemplate(name, builtins.script_command(script), timeout_seconds=timeout),
        ])

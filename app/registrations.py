"""Cross-domain wiring, made when the API or a worker starts (`register_all`).

- Environment resources (servers, applications...) become addressable by
  `/resource-links` and `/events`. Which servers a resource runs on stays in the resources'
  own link table (`resource_servers`), so no user link rules are declared for those pairs:
  one source of truth for deployment targets.
- The action engine learns which servers each resource type runs on, where a resource
  lives (for `/pipelines/{resource_type}/{resource_id}` and friends) and how to reach a
  server: its address, SSH user, pinned host key and its environment's private key.
- Incoming hooks resolve their pipeline through the engine's pipelines.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import targets
from app.actions.listeners import ActionFinished, register_finish_listener
from app.actions.models import Pipeline
from app.core.database import Database
from app.core.errors import Conflict
from app.core.settings import Settings
from app.hooks.pipelines import PipelineRef, register_pipeline_lookup
from app.hooks.sender import send_outgoing_hooks
from app.resource_links.registry import (
    environment_resource_type,
    register_link_rule,
    register_resource_type,
)
from app.resources_common.engine_adapters import (
    RESOURCE_TYPES,
    ServerAccessSource,
    scope_resolver,
    target_resolver,
)
from app.resources_common.registry import resource_models

_HUMAN = {
    "application": "Application",
    "cronjob": "Cron Job",
    "daemon": "Daemon",
    "network-rule": "Network Rule",
    "server": "Server",
    "service": "Service",
    "ssh-key": "SSH Key",
    "ssl-certificate": "SSL Certificate",
    "virtual-host": "Virtual Host",
}


class EngineServerAccess:
    """The resources' connection details, in the engine's terms."""

    def __init__(self, settings: Settings) -> None:
        self.source = ServerAccessSource(settings)

    async def get_access(
        self, session: AsyncSession, server_id: int
    ) -> targets.ServerAccess | None:
        try:
            found = await self.source.get_access(session, server_id)
        except (ValueError, InvalidTag) as exc:
            # A key sealed under another SECRET_KEY (or damaged): refuse clearly, not a 500.
            raise Conflict(
                f"The SSH key of server {server_id}'s environment cannot be decrypted with "
                "this server's SECRET_KEY (was the key changed without re-encrypting?)."
            ) from exc
        if found is None:
            return None
        return targets.ServerAccess(
            server_id=found.server_id,
            host=found.host,
            port=found.port,
            username=found.username,
            private_key=found.private_key,
            host_key=found.host_key,
            max_parallel_actions=found.max_parallel_actions,
            hostname=found.hostname,
            os_version_code=found.os_version_code,
            secrets=tuple(found.secrets),
        )

    async def pin_host_key(self, session: AsyncSession, server_id: int, host_key: str) -> None:
        await self.source.pin_host_key(session, server_id, host_key)


def _engine_scope(resource_type: str) -> targets.ScopeResolver:
    resolve = scope_resolver(resource_type)

    async def scope(session: AsyncSession, resource_id: int) -> targets.ResourceScope | None:
        found = await resolve(session, resource_id)
        if found is None:
            return None
        return targets.ResourceScope(
            environment_id=found.environment_id,
            project_id=found.project_id,
            organization_id=found.organization_id,
        )

    return scope


async def _pipeline_lookup(session: AsyncSession, pipeline_id: int) -> PipelineRef | None:
    pipeline = await session.scalar(select(Pipeline).where(Pipeline.id == pipeline_id))
    if pipeline is None or pipeline.environment_id is None or pipeline.project_id is None:
        return None
    return PipelineRef(
        pipeline.id,
        pipeline.environment_id,
        pipeline.project_id,
        pipeline.resource_type,
        pipeline.resource_id,
        pipeline.operation,
    )


async def _outgoing_hooks(database: Database, settings: Settings, event: ActionFinished) -> None:
    """Outgoing hooks of the action's pipeline hear `action.completed` / `action.failed`."""
    if event.pipeline_id is None:
        return
    await send_outgoing_hooks(
        database,
        settings,
        pipeline_id=event.pipeline_id,
        event=f"action.{event.status}",
        variables={
            "action": {
                "id": event.action_id,
                "status": event.status,
                "type": event.action_type,
                "resource_type": event.resource_type,
                "resource_id": event.resource_id,
            }
        },
        action_id=event.action_id,
    )


def register_all(settings: Settings) -> None:
    """Idempotent: registering again replaces the previous registration."""
    for resource_type, model in resource_models().items():
        name_column = model.hostname if resource_type == "server" else None  # type: ignore[attr-defined]
        register_resource_type(
            environment_resource_type(
                resource_type,
                _HUMAN.get(resource_type, resource_type),
                model,
                name_column=name_column,
            )
        )
    for resource_type in RESOURCE_TYPES:
        targets.register_target_resolver(resource_type, target_resolver(resource_type))
        targets.register_scope_resolver(resource_type, _engine_scope(resource_type))
    targets.set_server_access_provider(EngineServerAccess(settings))
    # Users place servers in a network or subnet by linking them (cloud provisioning reads it).
    register_link_rule("network", "server")
    register_link_rule("subnet", "server")
    register_pipeline_lookup(_pipeline_lookup)
    register_finish_listener(_outgoing_hooks)

"""Cross-domain wiring, made when the API or a worker starts (`register_all`).

- Environment resources (servers, applications...) become addressable by
  `/resource-links` and `/events`. Which servers a resource runs on stays in the resources'
  own link table (`resource_servers`), so no user link rules are declared for those pairs
  (one source of truth for deployment targets); users may place a server in a network or
  subnet by linking it.
- The action engine learns which servers each resource type runs on, where a resource
  lives (for `/pipelines/{resource_type}/{resource_id}` and friends) and how to reach a
  server: its address, SSH user, pinned host key and its environment's private key.
- Incoming hooks resolve their pipeline through the engine's pipelines.
"""

from __future__ import annotations

import importlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import targets
from app.actions.catalog import resource_label
from app.actions.listeners import ActionFinished, register_finish_listener
from app.actions.models import Pipeline
from app.core import outbound
from app.core.database import Database
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

REMOTE_MODULES = (
    "app.servers.remote",
    "app.applications.remote",
    "app.services.remote",
    "app.daemons.remote",
    "app.cron_jobs.remote",
    "app.virtual_hosts.remote",
    "app.ssl_certificates.remote",
    "app.network_rules.remote",
    "app.ssh_keys.remote",
    "app.networks.remote",
)


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
    outbound.configure(settings)
    for resource_type, model in resource_models().items():
        name_column = model.hostname if resource_type == "server" else None  # type: ignore[attr-defined]
        register_resource_type(
            environment_resource_type(
                resource_type,
                resource_label(resource_type),
                model,
                name_column=name_column,
            )
        )
    for resource_type in RESOURCE_TYPES:
        targets.register_target_resolver(resource_type, target_resolver(resource_type))
        targets.register_scope_resolver(resource_type, scope_resolver(resource_type))
    targets.set_server_access_provider(ServerAccessSource(settings))
    # Users place servers in a network or subnet by linking them (cloud provisioning reads it).
    register_link_rule("network", "server")
    register_link_rule("subnet", "server")
    register_pipeline_lookup(_pipeline_lookup)
    register_finish_listener(_outgoing_hooks)
    # What each resource's operations do on its servers (default steps, script parameters).
    for module in REMOTE_MODULES:
        importlib.import_module(module).register(settings)

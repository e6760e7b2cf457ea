"""Cross-domain wiring, read top to bottom: the one place where the domains are plugged
into each other's registries, called once at start-up by every entry point (the API's
`create_app`, the Celery worker, the standalone engine, the sweeper) through
`register_all`. The registries themselves (`app.resources_common.registry`,
`app.resource_links.registry`, `app.actions.targets`, `app.actions.default_steps`,
`app.actions.builtins`, `app.actions.listeners`, `app.hooks.pipelines`) are the
mechanism; no domain registers itself in another's registry at import time. Engine
plugins (`ENGINE_PLUGINS`, `load_plugins`) are loaded after this, so they can replace a
built-in registration.

In order:

1. Resource types: the environment resources (servers, applications...) behind the
   `{resource_type}/{resource_id}` routes, and every type addressable by `/resource-links`
   and `/events` (those plus credentials, networks and subnets).
2. Link rules: the pairs users may link. Which servers a resource runs on stays in the
   resources' own link table (`resource_servers`), so no user link rules are declared for
   those pairs (one source of truth for deployment targets); users may place a server in a
   network or subnet by linking it, and a subnet sits under its network.
3. Action targets: which servers each resource type runs on, where a resource lives (for
   `/pipelines/{resource_type}/{resource_id}` and friends) and how to reach a server: its
   address, SSH user, pinned host key and its environment's private key.
4. Hooks: incoming hooks find their pipeline through the engine's pipelines; outgoing
   hooks hear each change of an action's status and its finish (`app.hooks.notices`).
5. Operations: what each resource's operations do on its servers (default steps, context
   builders, result handlers, Python steps, finish listeners), one `register` per family.
"""

from __future__ import annotations

import importlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import targets
from app.actions.catalog import resource_label
from app.actions.listeners import register_finish_listener, register_state_listener
from app.actions.models import Pipeline
from app.applications import remote as applications_remote
from app.applications.models import Application
from app.core import outbound
from app.core.settings import Settings
from app.credentials.access import CREDENTIAL_RESOURCE_TYPE
from app.cron_jobs import remote as cron_jobs_remote
from app.cron_jobs.models import CronJob
from app.daemons import remote as daemons_remote
from app.daemons.models import Daemon
from app.hooks import notices
from app.hooks.pipelines import PipelineRef, register_pipeline_lookup
from app.network_rules import remote as network_rules_remote
from app.network_rules.models import NetworkRule
from app.networks import remote as networks_remote
from app.networks.models import Network, Subnet
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
from app.resources_common.models import EnvironmentResource
from app.resources_common.registry import register_resource_model, resource_models
from app.servers import remote as servers_remote
from app.servers.models import Server
from app.services import remote as services_remote
from app.services.models import Service
from app.ssh_keys import remote as ssh_keys_remote
from app.ssh_keys.models import SshKey
from app.ssl_certificates import remote as ssl_certificates_remote
from app.ssl_certificates.models import SslCertificate
from app.virtual_hosts import remote as virtual_hosts_remote
from app.virtual_hosts.models import VirtualHost

# The environment resources, in the order `resource_models()` lists them.
ENVIRONMENT_RESOURCE_MODELS: tuple[type[EnvironmentResource], ...] = (
    Application, CronJob, Daemon, NetworkRule, Server, Service, SshKey, SslCertificate,
    VirtualHost,
)

# Each family's `register(settings)`, in the order they run (a later one may extend an
# earlier one: daemons reuse the applications' context).
OPERATIONS = (
    servers_remote.register,
    applications_remote.register,
    services_remote.register,
    daemons_remote.register,
    cron_jobs_remote.register,
    virtual_hosts_remote.register,
    ssl_certificates_remote.register,
    network_rules_remote.register,
    ssh_keys_remote.register,
    networks_remote.register,
)


def register_all(settings: Settings) -> None:
    """Idempotent: registering again replaces the previous registration."""
    outbound.configure(settings)
    _resource_types()
    _link_rules()
    _action_targets(settings)
    _hooks()
    for register in OPERATIONS:
        register(settings)


def load_plugins(modules: str) -> None:
    """Import the comma-separated `modules` (ENGINE_PLUGINS): they register at import."""
    for name in (m.strip() for m in modules.split(",")):
        if name:
            importlib.import_module(name)


def _resource_types() -> None:
    for model in ENVIRONMENT_RESOURCE_MODELS:
        register_resource_model(model)
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
    register_resource_type(environment_resource_type("network", "Network", Network))
    register_resource_type(environment_resource_type("subnet", "Subnet", Subnet))
    # Credentials have their own event history (GET /events/credential/{id}).
    register_resource_type(CREDENTIAL_RESOURCE_TYPE)


def _link_rules() -> None:
    # A subnet sits under its network; the server keeps that link (not unlinkable).
    register_link_rule("network", "subnet")
    # Users place servers in a network or subnet by linking them (cloud provisioning reads it).
    register_link_rule("network", "server")
    register_link_rule("subnet", "server")


def _action_targets(settings: Settings) -> None:
    for resource_type in RESOURCE_TYPES:
        targets.register_target_resolver(resource_type, target_resolver(resource_type))
        targets.register_scope_resolver(resource_type, scope_resolver(resource_type))
    targets.set_server_access_provider(ServerAccessSource(settings))


def _hooks() -> None:
    register_pipeline_lookup(_pipeline_lookup)
    # Outgoing hooks hear each change of an action's status and its finish.
    register_state_listener(notices.state_hooks)
    register_finish_listener(notices.finish_hooks)


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

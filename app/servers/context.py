"""What every built-in script learns about the server it runs on (`server_context_builder`):
its address and user, the operator's layout settings, and for the server's own operations
its key, blueprint services and, for a cloud server, the provider's instance, placement and
credential."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.cloud import steps as cloud_steps
from app.cloud.providers import is_cloud
from app.core.security import SecretBox
from app.core.settings import Settings
from app.environments.models import Environment
from app.networks.models import Network, Subnet
from app.servers.keys import keys_to_forget
from app.servers.models import Server
from app.services.remote import service_env
from app.variables import reserved
from app.variables.repository import DeployableVariable, deployable_variables_of

# What `server_context_prefetch` leaves for the builder: {server id: (its row or None, its
# variables)}.
_PREFETCHED = "servers"


async def _servers(session: AsyncSession, box: SecretBox, ids: list[int]
                   ) -> dict[int, tuple[Server | None, list[DeployableVariable]]]:
    """Each server's row (None: gone) and its variables, for the servers `ids`."""
    rows = {s.id: s for s in await session.scalars(select(Server).where(Server.id.in_(ids)))}
    variables = await deployable_variables_of(session, box, "server", ids)
    return {i: (rows.get(i), variables[i]) for i in ids}


def server_context_prefetch(settings: Settings) -> builtins.ContextPrefetch:
    box = SecretBox(settings)

    async def prefetch(session: AsyncSession, requests: Sequence[builtins.RunRequest]) -> None:
        ids = sorted({r.server_id for r in requests})
        builtins.prefetched(session, _PREFETCHED).update(await _servers(session, box, ids))

    return prefetch


def server_context_builder(settings: Settings) -> builtins.ContextBuilder:
    box = SecretBox(settings)

    async def build(session: AsyncSession, request: builtins.RunRequest) -> builtins.ScriptContext:
        read = builtins.prefetched(session, _PREFETCHED).get(request.server_id)
        if read is None:
            read = (await _servers(session, box, [request.server_id]))[request.server_id]
        server, variables = read
        if server is None:
            raise builtins.ContextUnavailable(f"Server {request.server_id} no longer exists.")
        context = builtins.ScriptContext(
            env={
                "DEVOPNESS_SSH_USER": server.ssh_user,
                "DEVOPNESS_SERVER_HOSTNAME": server.hostname,
                "DEVOPNESS_SERVER_NAME": server.name,
            }
        )
        if request.resource_type == "server":
            await _add_server_operation_context(
                session, box, server, context, request.operation
            )
        # An operator points scripts at a non-default layout (DEVOPNESS_NGINX_DIR...) with
        # server variables: only those layout settings, with values of their expected
        # shape, reach a script. Nothing else a user stores is exported into scripts that
        # run through sudo (see app.variables.reserved).
        for variable in variables:
            if variable.target != "os-env-var" or not reserved.operator_setting(
                variable.key, variable.value
            ):
                continue
            context.env[variable.key] = variable.value
            if variable.hidden:
                context.secrets.append(variable.value)
        return context

    return build


async def _add_server_operation_context(
    session: AsyncSession, box: SecretBox, server: Server, context: builtins.ScriptContext,
    operation: str,
) -> None:
    environment = await session.get(Environment, server.environment_id)
    assert environment is not None
    sealed = server.ssh_private_key_encrypted or environment.ssh_private_key_encrypted
    context.env["DEVOPNESS_CURRENT_PUBLIC_KEY"] = (
        server.ssh_public_key or environment.ssh_public_key
    )
    context.env["DEVOPNESS_BLUEPRINT_SERVICES"] = _blueprint_lines(server.blueprint_services)
    if operation == "delete":
        context.private["forget_keys"] = "\n".join(
            await keys_to_forget(session, server, environment.ssh_public_key)
        )
    # To log in again after a reboot (Python steps only; redacted everywhere).
    private_key = box.decrypt(sealed)
    context.private["private_key"] = private_key
    context.secrets.append(private_key)
    context.env["DEVOPNESS_SSH_PORT"] = str(server.ssh_port)
    if is_cloud(server.cloud_service_code):
        await _add_cloud_context(session, box, server, context)


def _blueprint_lines(blueprint: list[dict[str, Any]] | None) -> str:
    """What `server/provision.sh` installs, one service a line, with the packages and unit
    the services family installs it with (`service_env`)."""
    lines = []
    for item in blueprint or []:
        kind, version = str(item.get("type") or ""), str(item.get("version") or "latest")
        env = service_env(kind, version)
        lines.append(":".join((
            kind, version, "true" if item.get("auto_start", True) else "false",
            str(item.get("initial_state") or "started"), env["DEVOPNESS_SERVICE_UNIT"],
            env["DEVOPNESS_SERVICE_VERSION_PACKAGE"], env["DEVOPNESS_SERVICE_PACKAGES"],
        )))
    return "\n".join(lines)


async def _add_cloud_context(
    session: AsyncSession, box: SecretBox, server: Server, context: builtins.ScriptContext
) -> None:
    settings = server.provision_input.get("settings") or {}
    context.env.update({
        "DEVOPNESS_CLOUD_SERVICE_CODE": server.cloud_service_code,
        "DEVOPNESS_CLOUD_REGION": str(settings.get("region") or server.region or ""),
        "DEVOPNESS_CLOUD_ZONE": str(settings.get("zone") or ""),
        "DEVOPNESS_CLOUD_INSTANCE_TYPE": str(settings.get("instance_type") or ""),
        "DEVOPNESS_CLOUD_STORAGE_GB": str(settings.get("storage_size") or ""),
        "DEVOPNESS_CLOUD_OS_VERSION": str(settings.get("os_version_code")
                                          or server.os_version_code or ""),
        "DEVOPNESS_CLOUD_INSTANCE_ID": server.provider_instance_id or "",
    })
    subnet_id = server.provision_input.get("subnet_id")
    if subnet_id:
        # Placed in one of the environment's subnets: the provider's ids of it and its network.
        subnet = await session.get(Subnet, int(subnet_id))
        if subnet is not None and subnet.environment_id != server.environment_id:
            # Re-checked at run time like the credential: only a subnet of this environment.
            subnet = None
        network = await session.get(Network, subnet.network_id) if subnet else None
        if subnet is None or network is None or not network.provider_id:
            raise builtins.ContextUnavailable(
                f"Subnet {subnet_id} is not created at the provider (yet)."
            )
        context.env["DEVOPNESS_CLOUD_NETWORK_ID"] = network.provider_id
        if subnet.provider_id and subnet.provider_id != network.provider_id:
            context.env["DEVOPNESS_CLOUD_SUBNET_ID"] = subnet.provider_id
        if subnet.zone:
            context.env["DEVOPNESS_CLOUD_ZONE"] = subnet.zone
    context.merge(await cloud_steps.credential_context_for(
        session, box, server.credential_id, server.environment_id
    ))

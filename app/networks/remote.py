"""Networks and subnets at their cloud provider: actions whose target is the network (or
subnet) itself, run by local steps through the provider's `NetworkProvider`.

Created with the record (provision), read by get-status, destroyed by delete; the record
of a network or subnet created at the provider goes only once the provider confirmed its
deletion.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins, targets
from app.actions.default_steps import StepTemplate, register_default_steps
from app.actions.models import FINISHED, Action
from app.cloud import steps as cloud_steps
from app.cloud.base import NetworkProvider, NetworkSpec, SubnetSpec
from app.cloud.providers import network_provider
from app.core.security import SecretBox
from app.core.settings import Settings
from app.networks.models import Network, Subnet
from app.resource_links.service import forget_resource

# DigitalOcean VPCs have no subnets: a subnet there is a record of the VPC's range only.
_NO_SUBNETS = {"digitalocean-droplet"}


async def _describe_network(session: AsyncSession, network_id: int) -> dict[str, Any] | None:
    network = await session.get(Network, network_id)
    if network is None:
        return None
    return _target_data(network.id, network.name, network)


async def _describe_subnet(session: AsyncSession, subnet_id: int) -> dict[str, Any] | None:
    subnet = await session.get(Subnet, subnet_id)
    if subnet is None:
        return None
    network = await session.get(Network, subnet.network_id)
    assert network is not None
    return _target_data(subnet.id, subnet.name, network, subnet)


def _target_data(
    resource_id: int, name: str, network: Network, subnet: Subnet | None = None
) -> dict[str, Any]:
    """The reference's ActionTargetNetworkData."""
    settings: dict[str, Any] = {"region": (subnet.region if subnet else None) or network.region}
    block = subnet.cidr_block if subnet else network.cidr_block
    if block:
        settings["cidr_block"] = block
    return {
        "id": resource_id,
        "name": name,
        "provider_name": network.provider_name,
        "provider_name_human_readable": network.provider_name_human_readable,
        "provision_input": {"cloud_service_code": network.cloud_service_code,
                            "settings": settings},
    }


def context_builder(settings: Settings, kind: str) -> builtins.ContextBuilder:
    box = SecretBox(settings)

    async def build(session: AsyncSession, request: builtins.RunRequest) -> builtins.ScriptContext:
        subnet: Subnet | None = None
        if kind == "subnet":
            subnet = await session.get(Subnet, request.resource_id)
            if subnet is None:
                raise builtins.ContextUnavailable(f"Subnet {request.resource_id} no longer exists.")
            network = await session.get(Network, subnet.network_id)
        else:
            network = await session.get(Network, request.resource_id)
        if network is None:
            raise builtins.ContextUnavailable(f"Network {request.resource_id} no longer exists.")
        credential_id = subnet.credential_id if subnet else network.credential_id
        context = await cloud_steps.credential_context_for(
            session, box, credential_id, network.environment_id
        )
        env = {
            "DEVOPNESS_CLOUD_SERVICE_CODE": network.cloud_service_code,
            "DEVOPNESS_NETWORK_NAME": network.name,
            "DEVOPNESS_NETWORK_REGION": network.region,
            "DEVOPNESS_NETWORK_CIDR": network.cidr_block or "",
            "DEVOPNESS_NETWORK_PROVIDER_ID": network.provider_id or "",
        }
        if subnet is not None:
            # A network being created now (its provision action not finished) will have a
            # provider id soon: the subnet's creation waits for it instead of failing.
            creating = await session.scalar(select(exists().where(
                Action.resource_type == "network", Action.resource_id == network.id,
                Action.type == "provision", Action.status.not_in(list(FINISHED)),
            )))
            env.update({
                "DEVOPNESS_NETWORK_CREATING": "1" if creating else "",
                "DEVOPNESS_SUBNET_NAME": subnet.name,
                "DEVOPNESS_SUBNET_REGION": subnet.region or network.region,
                "DEVOPNESS_SUBNET_ZONE": subnet.zone or "",
                "DEVOPNESS_SUBNET_CIDR": subnet.cidr_block,
                "DEVOPNESS_SUBNET_PUBLIC": "1" if subnet.type == "public" else "0",
                "DEVOPNESS_SUBNET_PROVIDER_ID": subnet.provider_id or "",
            })
        context.env.update(env)
        return context

    return build


def _networks(step: builtins.StepRuntime, settings: Settings) -> NetworkProvider:
    code = step.context.env["DEVOPNESS_CLOUD_SERVICE_CODE"]
    provider = network_provider(code, cloud_steps.credential(step), settings)
    if provider is None:
        raise builtins.StepError(f"{code} has no networks.")
    return provider


def network_steps(settings: Settings) -> dict[str, builtins.PythonStep]:
    async def create(step: builtins.StepRuntime) -> None:
        env = step.context.env
        if env["DEVOPNESS_NETWORK_PROVIDER_ID"]:
            await step.log(f"Network {env['DEVOPNESS_NETWORK_PROVIDER_ID']} already exists.")
            return
        spec = NetworkSpec(
            name=env["DEVOPNESS_NETWORK_NAME"], region=env["DEVOPNESS_NETWORK_REGION"],
            cidr_block=env["DEVOPNESS_NETWORK_CIDR"] or None,
            tags={"managed-by": "devopness-server",
                  "devopness-network-id": str(step.request.resource_id)},
        )
        networks = _networks(step, settings)
        ref = await cloud_steps.call("The provider did not create the network",
                                     networks.create_network(spec))
        await step.record({"provider_id": ref.id})
        await step.log(f"Network {ref.id} created ({ref.provider_status or ref.status}).")

    async def status(step: builtins.StepRuntime) -> None:
        provider_id = step.context.env["DEVOPNESS_NETWORK_PROVIDER_ID"]
        if not provider_id:
            raise builtins.StepError("The network was not created at the provider.")
        networks = _networks(step, settings)
        ref = await cloud_steps.call(f"Could not read network {provider_id}",
                                     networks.get_network(provider_id))
        await step.log(f"Network {provider_id}: {ref.provider_status or ref.status}.")

    async def delete(step: builtins.StepRuntime) -> None:
        provider_id = step.context.env["DEVOPNESS_NETWORK_PROVIDER_ID"]
        if provider_id:
            networks = _networks(step, settings)
            await cloud_steps.call(f"Could not delete network {provider_id}",
                                   networks.delete_network(provider_id))
            await step.log(f"Network {provider_id} deleted at the provider.")
        await step.record({"destroyed": "1"})

    return {"network/create": create, "network/status": status, "network/delete": delete}


async def _network_created(step: builtins.StepRuntime, settings: Settings) -> str:
    """The provider id of the subnet's network, waiting (with backoff, at most
    `cloud_network_wait_seconds`) while the network's own creation is still running."""
    env = step.context.env
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.cloud_network_wait_seconds
    delay = 0.5
    while not env["DEVOPNESS_NETWORK_PROVIDER_ID"]:
        if not env.get("DEVOPNESS_NETWORK_CREATING"):
            raise builtins.StepError(
                "The subnet's network is not created at the provider (its creation failed "
                "or was never run): run the network's provision again, then retry this."
            )
        if loop.time() >= deadline:
            raise builtins.StepError(
                "The subnet's network was still being created at the provider after "
                f"{settings.cloud_network_wait_seconds:.0f} s; retry once it is."
            )
        if delay == 0.5:
            await step.log("Waiting for the network to be created at the provider...")
        await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
        delay = min(delay * 2, 10.0)
        env = (await step.reload_context()).env
    return env["DEVOPNESS_NETWORK_PROVIDER_ID"]


def subnet_steps(settings: Settings) -> dict[str, builtins.PythonStep]:
    async def create(step: builtins.StepRuntime) -> None:
        env = step.context.env
        if env["DEVOPNESS_SUBNET_PROVIDER_ID"]:
            await step.log(f"Subnet {env['DEVOPNESS_SUBNET_PROVIDER_ID']} already exists.")
            return
        network_id = await _network_created(step, settings)
        if env["DEVOPNESS_CLOUD_SERVICE_CODE"] in _NO_SUBNETS:
            await step.log("This provider's networks have no subnets: the range is recorded "
                           "for the servers placed in it, nothing is created.")
            await step.record({"provider_id": network_id})
            return
        spec = SubnetSpec(
            name=env["DEVOPNESS_SUBNET_NAME"], network_id=network_id,
            region=env["DEVOPNESS_SUBNET_REGION"], cidr_block=env["DEVOPNESS_SUBNET_CIDR"],
            zone=env["DEVOPNESS_SUBNET_ZONE"] or None,
            public=env["DEVOPNESS_SUBNET_PUBLIC"] == "1",
            tags={"managed-by": "devopness-server"},
        )
        networks = _networks(step, settings)
        ref = await cloud_steps.call("The provider did not create the subnet",
                                     networks.create_subnet(spec))
        await step.record({"provider_id": ref.id})
        await step.log(f"Subnet {ref.id} created.")

    async def delete(step: builtins.StepRuntime) -> None:
        env = step.context.env
        provider_id = env["DEVOPNESS_SUBNET_PROVIDER_ID"]
        code = env["DEVOPNESS_CLOUD_SERVICE_CODE"]
        if provider_id and code not in _NO_SUBNETS:
            networks = _networks(step, settings)
            await cloud_steps.call(
                f"Could not delete subnet {provider_id}",
                networks.delete_subnet(env["DEVOPNESS_NETWORK_PROVIDER_ID"], provider_id),
            )
            await step.log(f"Subnet {provider_id} deleted at the provider.")
        await step.record({"destroyed": "1"})

    return {"subnet/create": create, "subnet/delete": delete}


def result_handler(kind: str) -> builtins.ResultHandler:
    async def store(
        session: AsyncSession, request: builtins.RunRequest, results: dict[str, str],
        succeeded: bool,
    ) -> None:
        row: Network | Subnet | None = (
            await session.get(Network, request.resource_id)
            if kind == "network"
            else await session.get(Subnet, request.resource_id)
        )
        if row is None:
            return
        if results.get("destroyed"):
            # Gone at the provider: the record goes too.
            await forget_resource(session, kind, row.id)
            await session.delete(row)
            await session.flush()
            return
        if "provider_id" in results:
            row.provider_id = results["provider_id"] or None

    return store


def register(settings: Settings) -> None:
    targets.register_self_target("network", _describe_network)
    targets.register_self_target("subnet", _describe_subnet)
    for kind, steps in (("network", network_steps(settings)),
                        ("subnet", subnet_steps(settings))):
        builtins.register_context_builder(kind, context_builder(settings, kind))
        builtins.register_result_handler(kind, result_handler(kind))
        for name, step in steps.items():
            builtins.register_python_step(name, step)

    def local(name: str, title: str) -> StepTemplate:
        return StepTemplate(title, builtins.local_step_command(name), timeout_seconds=1800)

    register_default_steps("network", "provision",
                           [local("network/create", "Create the network at the provider")])
    register_default_steps("network", "get_status",
                           [local("network/status", "Read the network at the provider")])
    register_default_steps("network", "delete",
                           [local("network/delete", "Delete the network at the provider")])
    register_default_steps("subnet", "provision",
                           [local("subnet/create", "Create the subnet at the provider")])
    register_default_steps("subnet", "delete",
                           [local("subnet/delete", "Delete the subnet at the provider")])

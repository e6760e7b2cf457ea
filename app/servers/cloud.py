"""Servers created through a cloud provider: the local steps (run in the worker, before or
without SSH) that create, power and destroy the instance behind a server.

The provider is chosen by the server's `cloud_service_code` (`app.cloud.providers`); its
credential is the server's, decrypted only for the step. Creating an instance is
all-or-nothing: whatever fails after the provider accepted it (never running, no address,
SSH never answering) destroys the instance again and says so in the log, so nothing
billable is left behind unrecorded.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from app.actions import builtins
from app.cloud import steps as cloud_steps
from app.cloud.base import CloudError, ComputeProvider, Instance, InstanceNotFound, InstanceSpec
from app.cloud.providers import compute_provider
from app.core.settings import Settings

POLL_SECONDS = 3.0


def _provider(step: builtins.StepRuntime, settings: Settings) -> ComputeProvider:
    code = step.context.env["DEVOPNESS_CLOUD_SERVICE_CODE"]
    return compute_provider(code, cloud_steps.credential(step), settings)


async def _wait(
    step: builtins.StepRuntime, provider: Any, instance_id: str, wanted: str,
    limit: float, *, need_ip: bool = False,
) -> Instance:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    delay = 1.0
    last = ""
    while True:
        instance: Instance = await provider.get_instance(instance_id)
        if instance.status != last:
            last = instance.status
            await step.log(f"Instance {instance_id}: {instance.provider_status or instance.status}")
        if instance.status == wanted and (instance.public_ip or not need_ip):
            return instance
        if instance.status == "terminated":
            raise CloudError("the instance was terminated by the provider")
        if loop.time() >= deadline:
            raise CloudError(f"the instance was not {wanted} after {limit:g} seconds")
        await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
        delay = min(delay * 2, POLL_SECONDS * 4)


async def _wait_for_ssh(host: str, port: int, limit: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    delay = 1.0
    while True:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        except (OSError, TimeoutError):
            if loop.time() >= deadline:
                raise CloudError(
                    f"SSH on {host}:{port} did not answer within {limit:g} seconds"
                ) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        writer.close()
        return


def _spec(env: dict[str, str], ssh_public_key: str) -> InstanceSpec:
    return InstanceSpec(
        name=env["DEVOPNESS_SERVER_HOSTNAME"],
        region=env.get("DEVOPNESS_CLOUD_REGION", ""),
        instance_type=env.get("DEVOPNESS_CLOUD_INSTANCE_TYPE", ""),
        storage_size_gb=int(env.get("DEVOPNESS_CLOUD_STORAGE_GB") or 20),
        os_version_code=env.get("DEVOPNESS_CLOUD_OS_VERSION", "ubuntu_24_04"),
        ssh_public_key=ssh_public_key,
        ssh_user=env.get("DEVOPNESS_SSH_USER", "root"),
        network_id=env.get("DEVOPNESS_CLOUD_NETWORK_ID") or None,
        subnet_id=env.get("DEVOPNESS_CLOUD_SUBNET_ID") or None,
        zone=env.get("DEVOPNESS_CLOUD_ZONE") or None,
        tags={"devopness-server-id": env["DEVOPNESS_SERVER_ID"],
              "managed-by": "devopness-server"},
    )


def create_step(settings: Settings) -> builtins.PythonStep:
    async def create(step: builtins.StepRuntime) -> None:
        env = step.context.env
        if env.get("DEVOPNESS_CLOUD_INSTANCE_ID"):
            await step.log(f"Instance {env['DEVOPNESS_CLOUD_INSTANCE_ID']} already exists.")
            return
        provider = _provider(step, settings)
        spec = _spec(env, env["DEVOPNESS_CURRENT_PUBLIC_KEY"])
        await step.log(
            f"Creating {spec.instance_type} in {spec.region} ({spec.os_version_code}, "
            f"{spec.storage_size_gb} GB)."
        )
        try:
            instance: Instance = await provider.create_instance(spec)
        except Exception as exc:
            raise cloud_steps.failure("The provider refused to create the instance", exc) from exc
        # Recorded at once: a worker dying from here on leaves a known instance id.
        await step.record({"instance_id": instance.id,
                           "provider_data": json.dumps(dict(instance.extra)),
                           # Some clouds refuse root: the user the image authorised.
                           "ssh_user": str(instance.extra.get("ssh_user") or "")})
        await step.log(f"Instance {instance.id} requested.")
        try:
            ready = await _wait(step, provider, instance.id, "running",
                                settings.cloud_ready_timeout_seconds, need_ip=True)
            assert ready.public_ip is not None
            await step.record({"ip_address": ready.public_ip})
            await step.log(f"Running at {ready.public_ip}; waiting for SSH.")
            await _wait_for_ssh(ready.public_ip, int(env.get("DEVOPNESS_SSH_PORT", "22")),
                                settings.cloud_ssh_timeout_seconds)
        except Exception as exc:
            await step.log(f"Creating the server failed ({exc}); destroying instance "
                           f"{instance.id} so nothing is left behind.")
            try:
                await provider.destroy_instance(instance.id, destroy_disks=True)
            except Exception as cleanup:
                raise builtins.StepError(
                    f"{exc}; destroying instance {instance.id} failed too ({cleanup}): "
                    "delete it at the provider"
                ) from exc
            await step.record({"instance_id": "", "ip_address": ""})
            await step.log(f"Instance {instance.id} destroyed.")
            raise cloud_steps.failure("The server could not be created", exc) from exc
        await step.log("The instance is ready.")

    return create


def power_step(settings: Settings, action: str) -> builtins.PythonStep:
    """start, stop or reboot the instance and wait until it is in the state asked for."""

    async def power(step: builtins.StepRuntime) -> None:
        env = step.context.env
        instance_id = env.get("DEVOPNESS_CLOUD_INSTANCE_ID", "")
        if not instance_id:
            raise builtins.StepError("The server has no cloud instance.")
        provider = _provider(step, settings)
        try:
            if action == "start":
                await provider.start_instance(instance_id)
                ready = await _wait(step, provider, instance_id, "running",
                                    settings.cloud_ready_timeout_seconds, need_ip=True)
            elif action == "stop":
                await provider.stop_instance(instance_id)
                ready = await _wait(step, provider, instance_id, "stopped",
                                    settings.cloud_ready_timeout_seconds)
            else:
                await provider.reboot_instance(instance_id)
                await asyncio.sleep(2)
                ready = await _wait(step, provider, instance_id, "running",
                                    settings.cloud_ready_timeout_seconds, need_ip=True)
            if ready.public_ip:
                await step.record({"ip_address": ready.public_ip})
            if action != "stop" and ready.public_ip:
                await _wait_for_ssh(ready.public_ip, int(env.get("DEVOPNESS_SSH_PORT", "22")),
                                    settings.cloud_ssh_timeout_seconds)
        except builtins.StepError:
            raise
        except Exception as exc:
            raise cloud_steps.failure(f"Could not {action} instance {instance_id}", exc) from exc
        await step.log(f"Instance {instance_id}: {ready.status}.")

    return power


def status_step(settings: Settings) -> builtins.PythonStep:
    async def status(step: builtins.StepRuntime) -> None:
        instance_id = step.context.env.get("DEVOPNESS_CLOUD_INSTANCE_ID", "")
        if not instance_id:
            raise builtins.StepError("The server has no cloud instance.")
        provider = _provider(step, settings)
        try:
            instance: Instance = await provider.get_instance(instance_id)
        except InstanceNotFound as exc:
            await step.record({"instance_status": "terminated"})
            raise builtins.StepError(
                f"Instance {instance_id} no longer exists at the provider."
            ) from exc
        except Exception as exc:
            raise cloud_steps.failure(f"Could not read instance {instance_id}", exc) from exc
        await step.record({"instance_status": instance.status,
                           "ip_address": instance.public_ip or ""})
        await step.log(f"Instance {instance_id}: {instance.provider_status or instance.status}"
                       f", address {instance.public_ip or 'none'}.")

    return status


def destroy_step(settings: Settings) -> builtins.PythonStep:
    async def destroy(step: builtins.StepRuntime) -> None:
        instance_id = step.context.env.get("DEVOPNESS_CLOUD_INSTANCE_ID", "")
        destroy_disks = bool(step.request.action_data.get("destroy_disks", True))
        if instance_id:
            provider = _provider(step, settings)
            try:
                await provider.destroy_instance(instance_id, destroy_disks=destroy_disks)
            except Exception as exc:
                raise cloud_steps.failure(f"Could not destroy instance {instance_id}", exc) from exc
            await step.log(f"Instance {instance_id} destroyed"
                           + (" with its disks." if destroy_disks else "; its disks are kept."))
        else:
            await step.log("The server has no cloud instance; nothing to destroy.")
        await step.record({"destroyed": "1"})

    return destroy


def register(settings: Settings) -> None:
    builtins.register_python_step("server/cloud-create", create_step(settings))
    builtins.register_python_step("server/cloud-start", power_step(settings, "start"))
    builtins.register_python_step("server/cloud-stop", power_step(settings, "stop"))
    builtins.register_python_step("server/cloud-reboot", power_step(settings, "reboot"))
    builtins.register_python_step("server/cloud-status", status_step(settings))
    builtins.register_python_step("server/cloud-destroy", destroy_step(settings))

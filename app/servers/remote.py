"""What server operations do (see `app.actions.builtins`): their default steps, the Python
steps that verify a connection and wait for a reboot, what a run reports back
(`result_handler`) and the server's status after each operation. What scripts learn about
the server is `app.servers.context`; its SSH keys on the machine, `app.servers.keys`."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.default_steps import (
    StepTemplate,
    register_default_steps,
    register_variant_resolver,
)
from app.actions.listeners import ActionFinished, register_outcome_listener
from app.cloud.providers import is_cloud
from app.core.database import utcnow
from app.core.security import SecretBox
from app.core.settings import Settings
from app.resources_common.service import remove_resource
from app.servers import cloud
from app.servers.context import server_context_builder, server_context_prefetch
from app.servers.keys import forget_keys, rotate_key
from app.servers.models import Server, ServerStatus
from app.static_options.catalog import OS_VERSIONS

_STATUS_NUMBERS = ("load_1m", "load_5m", "load_15m", "cpus", "memory_total_kb",
                   "memory_available_kb")
_STATUS_TEXTS = ("os_id", "os_version", "disk_used", "kernel", "os_pretty_name")


def result_handler(settings: Settings) -> builtins.ResultHandler:
    box = SecretBox(settings)

    async def store(
        session: AsyncSession, request: builtins.RunRequest, results: dict[str, str],
        succeeded: bool,
    ) -> None:
        """Keep what the server reported (load, memory, disk, OS) and a rotated key."""
        if request.resource_type != "server" or not results:
            return
        server = await session.get(Server, request.server_id)
        if server is None:
            return
        if "destroyed" in results:
            # The instance is gone: so is the server (nothing left at the provider).
            await remove_resource(session, server)
            return
        if "instance_id" in results:
            server.provider_instance_id = results["instance_id"] or None
            if results.get("provider_data"):
                server.provider_data = json.loads(results["provider_data"])
            if results.get("ssh_user"):
                server.ssh_user = results["ssh_user"][:32]
        if "ip_address" in results:
            server.ip_address = results["ip_address"] or server.ip_address
            if not results["ip_address"] and not server.provider_instance_id:
                server.ip_address = None
        if results.get("instance_status"):
            server.status = _INSTANCE_STATUS.get(results["instance_status"], server.status)
        if set(results) <= {"instance_id", "provider_data", "ip_address", "instance_status",
                            "ssh_user"}:
            return
        if "rotated_private_key" in results:
            server.ssh_private_key_encrypted = box.encrypt(results["rotated_private_key"])
            server.ssh_public_key = results["rotated_public_key"]
            return
        details: dict[str, object] = dict(server.status_details or {})
        for key, value in results.items():
            if key in _STATUS_NUMBERS:
                try:
                    details[key] = float(value) if "." in value else int(value)
                except ValueError:
                    continue
            elif key in _STATUS_TEXTS:
                details[key] = value[:200]
        server.status_details = details
        server.status_checked_at = utcnow()
        code = _os_version_code(results.get("os_id"), results.get("os_version"))
        if code is not None:
            server.os_version_code = code

    return store


def _os_version_code(os_id: str | None, version: str | None) -> str | None:
    if not os_id or not version:
        return None
    code = f"{os_id}_{version.replace('.', '_')}"
    return code if code in OS_VERSIONS else None


_INSTANCE_STATUS = {
    "pending": ServerStatus.PROVISIONING,
    "running": ServerStatus.RUNNING,
    "stopping": ServerStatus.STOPPED,
    "stopped": ServerStatus.STOPPED,
    "terminated": ServerStatus.FAILED,
}


def _variant_of(code: str | None) -> str | None:
    return "cloud" if code is not None and is_cloud(code) else None


async def _variant(session: AsyncSession, server_id: int) -> str | None:
    return _variant_of(
        await session.scalar(select(Server.cloud_service_code).where(Server.id == server_id))
    )


# Server status after each operation, success first, failure second (None: unchanged).
_STATUS_AFTER: dict[str, tuple[ServerStatus, ServerStatus | None]] = {
    "provision": (ServerStatus.RUNNING, ServerStatus.FAILED),
    "deploy": (ServerStatus.RUNNING, ServerStatus.FAILED),
    "get_status": (ServerStatus.RUNNING, None),
    "start": (ServerStatus.RUNNING, None),
    "restart": (ServerStatus.RUNNING, None),
    "stop": (ServerStatus.STOPPED, None),
}


async def _status_listener(session: AsyncSession, event: ActionFinished) -> None:
    if event.resource_type != "server" or event.action_type not in _STATUS_AFTER:
        return
    success, failure = _STATUS_AFTER[event.action_type]
    status = success if event.status == "completed" else failure
    if status is None:
        return
    if event.action_type == "get_status" and _variant_of(
        await session.scalar(
            select(Server.cloud_service_code).where(Server.id == event.resource_id)
        )
    ):
        # A cloud server's status is the instance's state the provider reported
        # (`result_handler`): a stopped instance stays stopped.
        return
    change = update(Server).where(Server.id == event.resource_id).values(status=status)
    if not event.ran:
        # Its steps did not run to their end (cancelled, timed out, worker lost): the
        # machine is as it was, so its status stands; only a server still waiting for its
        # first provision learns that it will not come.
        change = change.where(Server.status == ServerStatus.PROVISIONING)
    await session.execute(change)


async def verify_connection(step: builtins.StepRuntime) -> None:
    """The first connection worked (the engine pinned the host key): read what the
    machine is."""
    code, output = await step.run(
        "uname -s; uname -r; id -un; . /etc/os-release 2>/dev/null; "
        'echo "${ID:-unknown}"; echo "${VERSION_ID:-unknown}"; echo "${PRETTY_NAME:-unknown}"'
    )
    lines = output.splitlines()
    if code != 0 or len(lines) < 6:
        raise builtins.StepError(
            f"Could not read the server's system information: {output.strip()}"
        )
    kernel_name, kernel, user, os_id, os_version, pretty = lines[:6]
    if kernel_name != "Linux":
        raise builtins.StepError(f"Only Linux servers are supported; this one runs {kernel_name}.")
    await step.log(f"Connected as {user}: {pretty}, kernel {kernel}.")
    if _os_version_code(os_id, os_version) is None:
        await step.log(f"note: {pretty} is not one of the listed OS versions; continuing.")
    await step.record({"os_id": os_id, "os_version": os_version, "kernel": kernel,
                       "os_pretty_name": pretty})


async def _remove_self_hosted(session: AsyncSession, event: ActionFinished) -> None:
    """A self-hosted server's delete action cleaned up what it could; the record goes
    whatever the outcome (a machine that cannot be reached any more is still removed), but
    only once the delete ran: one cancelled before it started leaves the server as it was."""
    if event.resource_type != "server" or event.action_type != "delete" or not event.ran:
        return
    server = await session.get(Server, event.resource_id)
    if server is not None and not is_cloud(server.cloud_service_code):
        await remove_resource(session, server)


async def wait_reachable(step: builtins.StepRuntime) -> None:
    """After a reboot: wait (bounded) until the server accepts SSH logins again."""
    await asyncio.sleep(10)
    deadline = asyncio.get_running_loop().time() + 600
    problem: str | None = "not tried"
    while asyncio.get_running_loop().time() < deadline:
        problem = await step.try_login(step.context.private["private_key"])
        if problem is None:
            await step.log("The server is reachable again.")
            return
        await asyncio.sleep(5)
    raise builtins.StepError(f"The server did not come back within 10 minutes: {problem}")



def register(settings: Settings) -> None:
    builtins.register_context_builder("server", server_context_builder(settings))
    builtins.register_context_prefetch("server", server_context_prefetch(settings))
    builtins.register_result_handler("server", result_handler(settings))
    builtins.register_python_step("server/verify-connection", verify_connection)
    builtins.register_python_step("server/rotate-key", rotate_key)
    builtins.register_python_step("server/wait-reachable", wait_reachable)
    builtins.register_python_step("server/forget-keys", forget_keys)
    register_outcome_listener(_status_listener)
    register_outcome_listener(_remove_self_hosted)
    status = StepTemplate("Check reachability and load",
                          builtins.script_command("server/get-status"), timeout_seconds=60)
    provision = [
        StepTemplate("Verify the connection",
                     builtins.python_step_command("server/verify-connection"),
                     timeout_seconds=60),
        StepTemplate("Install base packages and blueprint services",
                     builtins.script_command("server/provision"), timeout_seconds=1800),
        status,
    ]
    register_default_steps("server", "get_status", [status])
    register_default_steps("server", "provision", provision)
    register_default_steps("server", "deploy", provision[1:])
    register_default_steps("server", "start", [status])
    register_default_steps("server", "stop", [
        StepTemplate("Power off", builtins.script_command("server/stop"), timeout_seconds=60),
    ])
    register_default_steps("server", "restart", [
        StepTemplate("Reboot", builtins.script_command("server/restart"), timeout_seconds=60),
        StepTemplate("Wait until reachable",
                     builtins.python_step_command("server/wait-reachable"),
                     timeout_seconds=900),
        status,
    ])
    # Servers created through a cloud provider: the instance is created, powered and
    # destroyed through the provider (local steps, before any SSH), then as above.
    cloud.register(settings)
    register_variant_resolver("server", _variant)

    def local(name: str, title: str, timeout: int = 1800) -> StepTemplate:
        return StepTemplate(title, builtins.local_step_command(name), timeout_seconds=timeout)

    register_default_steps("server", "provision", [
        local("server/cloud-create", "Create the cloud instance"), *provision,
    ], variant="cloud")
    register_default_steps("server", "start", [
        local("server/cloud-start", "Power on the instance"), status,
    ], variant="cloud")
    register_default_steps("server", "stop", [
        local("server/cloud-stop", "Power off the instance"),
    ], variant="cloud")
    register_default_steps("server", "restart", [
        local("server/cloud-reboot", "Reboot the instance"), status,
    ], variant="cloud")
    register_default_steps("server", "get_status", [
        local("server/cloud-status", "Read the instance's state", 120),
    ], variant="cloud")
    register_default_steps("server", "delete", [
        local("server/cloud-destroy", "Destroy the instance"),
    ], variant="cloud")
    register_default_steps("server", "delete", [
        StepTemplate("Remove the server's keys from authorized_keys",
                     builtins.python_step_command("server/forget-keys"), timeout_seconds=60),
    ])
    register_default_steps("server", "rotate_key", [
        StepTemplate("Rotate the SSH key", builtins.python_step_command("server/rotate-key"),
                     timeout_seconds=120),
    ])

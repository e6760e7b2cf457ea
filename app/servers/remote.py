"""What every built-in script learns about the server it runs on, and what server
operations do there (see `app.actions.builtins`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.default_steps import (
    StepTemplate,
    register_default_steps,
    register_variant_resolver,
)
from app.actions.listeners import ActionFinished, register_outcome_listener
from app.cloud import steps as cloud_steps
from app.cloud.providers import is_cloud
from app.core.database import utcnow
from app.core.security import SecretBox
from app.core.settings import Settings
from app.environments.models import Environment
from app.networks.models import Network, Subnet
from app.resources_common.service import remove_resource
from app.servers import cloud
from app.servers.models import Server, ServerStatus
from app.services.remote import service_env
from app.static_options.catalog import OS_VERSIONS
from app.variables import reserved
from app.variables.repository import deployable_variables


def server_context_builder(settings: Settings) -> builtins.ContextBuilder:
    box = SecretBox(settings)

    async def build(session: AsyncSession, request: builtins.RunRequest) -> builtins.ScriptContext:
        server = await session.scalar(select(Server).where(Server.id == request.server_id))
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
        for variable in await deployable_variables(session, box, "server", server.id):
            if variable.target != "os-env-var" or not reserved.operator_setting(
                variable.key, variable.value
            ):
                continue
            context.env[variable.key] = variable.value
            if variable.hidden:
                context.secrets.append(variable.value)
        return context

    return build


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
    await session.execute(
        update(Server).where(Server.id == event.resource_id).values(status=status)
    )


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


_AUTHORIZED = '"$HOME/.ssh/authorized_keys"'


async def rotate_key(step: builtins.StepRuntime) -> None:
    """New key in, proven to work, stored, and only then the old key out: at every moment
    one stored key can log in."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    public_line = f"{public} devopness-server-{step.request.server_id}"
    code, output = await step.run(
        'mkdir -p "$HOME/.ssh" && chmod 700 "$HOME/.ssh" && touch ' + _AUTHORIZED
        + " && chmod 600 " + _AUTHORIZED + " && cat >> " + _AUTHORIZED,
        stdin=public_line + "\n",
    )
    if code != 0:
        raise builtins.StepError(f"Could not add the new key to authorized_keys: {output.strip()}")
    await step.log("Added the new key to authorized_keys.")
    problem = await step.try_login(private_pem)
    if problem is not None:
        await _remove_key_line(step, public)
        raise builtins.StepError(
            f"Logging in with the new key failed ({problem}); it was removed again and "
            "the current key stays in use."
        )
    await step.log("Logged in with the new key.")
    await step.record({"rotated_public_key": public_line, "rotated_private_key": private_pem})
    await step.log("The new key is stored; from now on actions use it.")
    old = step.context.env.get("DEVOPNESS_CURRENT_PUBLIC_KEY", "")
    old_key = " ".join(old.split()[:2])
    if old_key and old_key != public:
        await _remove_key_line(step, old_key)
        await step.log("Removed the previous key from authorized_keys.")


async def _remove_key_line(step: builtins.StepRuntime, key: str) -> None:
    """Drop the lines holding `key` (type and base64, whatever the comment); written
    aside and renamed, so authorized_keys is never left truncated."""
    code, output = await step.run(
        "f=" + _AUTHORIZED + '; k=$(cat); t=$(mktemp "$f.XXXXXX") && '
        'awk -v k="$k" \'{ split($0, a, " "); if (a[1] " " a[2] != k) print }\' "$f" > "$t" '
        '&& chmod 600 "$t" && mv -f "$t" "$f"',
        stdin=key,
    )
    if code != 0:
        raise builtins.StepError(f"Could not update authorized_keys: {output.strip()}")


def _key_of(line: str | None) -> str:
    """Type and base64 of an OpenSSH public key line, without its comment."""
    return " ".join((line or "").split()[:2])


async def _keys_to_forget(
    session: AsyncSession, server: Server, environment_key: str
) -> list[str]:
    """The keys this product authorised for the server (its environment's key, which the
    connect command adds, and its own after a rotation) that no other server record still
    logs in with on the same machine and user."""
    mine = [k for k in dict.fromkeys((_key_of(server.ssh_public_key), _key_of(environment_key)))
            if k]
    rows = await session.execute(
        select(Server.ssh_public_key, Environment.ssh_public_key)
        .join(Environment, Environment.id == Server.environment_id)
        .where(
            Server.id != server.id,
            Server.ip_address == server.ip_address,
            Server.ssh_port == server.ssh_port,
            Server.ssh_user == server.ssh_user,
        )
    )
    in_use = {_key_of(own or shared) for own, shared in rows.all()}
    return [k for k in mine if k not in in_use]


async def forget_keys(step: builtins.StepRuntime) -> None:
    """Before the record goes: take the keys only it used out of authorized_keys."""
    keys = [k for k in step.context.private.get("forget_keys", "").splitlines() if k]
    if not keys:
        await step.log("Another server record still logs in with this key: it stays.")
        return
    for key in keys:
        await _remove_key_line(step, key)
    await step.log(f"Removed {len(keys)} key(s) this server was connected with from "
                   "authorized_keys.")


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
            await _keys_to_forget(session, server, environment.ssh_public_key)
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


def register(settings: Settings) -> None:
    builtins.register_context_builder("server", server_context_builder(settings))
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

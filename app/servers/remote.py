"""What every built-in script learns about the server it runs on, and what server
operations do there (see `app.actions.builtins`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.service import StepTemplate, register_default_steps
from app.core.database import utcnow
from app.core.security import SecretBox
from app.core.settings import Settings
from app.servers.models import Server, ServerStatus
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
        # The server's own environment variables reach every script run on it: that is
        # how an operator points scripts at non-default paths (DEVOPNESS_NGINX_DIR...).
        for variable in await deployable_variables(session, box, "server", server.id):
            if variable.target != "os-env-var":
                continue
            context.env[variable.key] = variable.value
            if variable.hidden:
                context.secrets.append(variable.value)
        return context

    return build


_STATUS_NUMBERS = ("load_1m", "load_5m", "load_15m", "cpus", "memory_total_kb",
                   "memory_available_kb")


async def store_results(
    session: AsyncSession, request: builtins.RunRequest, results: dict[str, str],
    succeeded: bool,
) -> None:
    """get-status (and connect) report load, memory, disk and OS: keep the last report."""
    if request.resource_type != "server" or not results:
        return
    server = await session.get(Server, request.server_id)
    if server is None:
        return
    details: dict[str, object] = dict(server.status_details or {})
    for key, value in results.items():
        if key in _STATUS_NUMBERS:
            try:
                details[key] = float(value) if "." in value else int(value)
            except ValueError:
                continue
        elif key in ("os_id", "os_version", "disk_used", "kernel", "os_pretty_name"):
            details[key] = value[:200]
    server.status_details = details
    server.status_checked_at = utcnow()
    if succeeded and server.status in (ServerStatus.PENDING, ServerStatus.STOPPED,
                                       ServerStatus.FAILED, ServerStatus.RESTARTING):
        server.status = ServerStatus.RUNNING


def register(settings: Settings) -> None:
    builtins.register_context_builder("server", server_context_builder(settings))
    builtins.register_result_handler("server", store_results)
    register_default_steps("server", "get_status", [
        StepTemplate("Check reachability and load", builtins.script_command("server/get-status"),
                     timeout_seconds=60),
    ])

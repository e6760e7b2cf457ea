"""What a daemon does on its servers: a supervised set of processes (systemd template
units, or supervisor programs where systemd or root is missing). The scripts are
`workers/scripts/daemon/*.sh`; the mechanism lives in `workers/scripts/lib/daemon.sh`.

See `app.actions.builtins`; `register()` is called by `app.wiring.register_all`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins, targets
from app.applications import remote as application_remote
from app.applications.models import Application
from app.core.settings import Settings
from app.cron_jobs.models import CronJob
from app.daemons.models import Daemon
from app.resources_common import links
from app.resources_common.scripts import ScriptSteps, register_script_steps, resource_for

_STEPS: ScriptSteps = {
    "deploy": ("Install and start the daemon", "daemon/deploy", 300),
    "get_status": ("Count the daemon's running processes", "daemon/get-status", 60),
    "start": ("Start the daemon", "daemon/start", 120),
    "stop": ("Stop the daemon", "daemon/stop", 120),
    "restart": ("Restart the daemon", "daemon/restart", 120),
    "remove": ("Stop and remove the daemon", "daemon/remove", 120),
}


def context_builder(settings: Settings) -> builtins.ContextBuilder:
    async def build(
        session: AsyncSession, request: builtins.RunRequest
    ) -> builtins.ScriptContext:
        daemon = await resource_for(session, Daemon, request, "Daemon")
        context = builtins.ScriptContext()
        if daemon.application_id is not None and request.operation == "deploy":
            # A linked application's daemon runs in the root of the application's live
            # release (`<applications dir>/<app>/current/<root>`; a working directory is
            # relative to it) with the application's variables and runtime.
            context = await application_remote.process_context(
                session, settings, daemon.application_id)
        elif daemon.application_id is not None:
            application = await session.get(Application, daemon.application_id)
            if application is not None:
                context.env.update(application_remote.process_env(application))
        context.env.update({
            "DEVOPNESS_DAEMON_ID": str(daemon.id),
            "DEVOPNESS_DAEMON_NAME": daemon.name,
            "DEVOPNESS_DAEMON_COMMAND": daemon.command,
            "DEVOPNESS_DAEMON_USER": daemon.run_as_user,
            "DEVOPNESS_DAEMON_WORKING_DIRECTORY": daemon.working_directory or "",
            "DEVOPNESS_DAEMON_PROCESS_COUNT": str(daemon.process_count),
            "DEVOPNESS_DAEMON_APPLICATION": "1" if daemon.application_id is not None else "",
        })
        return context

    return build


async def servers_of_daemon(session: AsyncSession, daemon_id: int) -> list[int]:
    """A daemon runs on the servers it is linked to; one of an application linked to none
    runs where its application runs (the application's deploy installs it there)."""
    return await servers_of_application_process(session, "daemon", Daemon, daemon_id)


async def servers_of_application_process(
    session: AsyncSession, resource_type: str, model: type[Daemon] | type[CronJob],
    resource_id: int,
) -> list[int]:
    own = await links.servers_for(session, resource_type, resource_id)
    if own:
        return own
    application_id = await session.scalar(
        select(model.application_id).where(model.id == resource_id))
    if application_id is None:
        return []
    return await links.servers_for(session, "application", application_id)


def register(settings: Settings) -> None:
    builtins.register_context_builder("daemon", context_builder(settings))
    targets.register_target_resolver("daemon", servers_of_daemon)
    register_script_steps("daemon", _STEPS)

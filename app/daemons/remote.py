"""What a daemon does on its servers: a supervised set of processes (systemd template
units, or supervisor programs where systemd or root is missing). The scripts are
`workers/scripts/daemon/*.sh`; the mechanism lives in `workers/scripts/lib/daemon.sh`.

See `app.actions.builtins`; `register()` is called by `app.wiring.register_all`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.service import StepTemplate, register_default_steps
from app.applications import remote as application_remote
from app.applications.models import Application
from app.core.settings import Settings
from app.daemons.models import Daemon

# operation -> (step name, script, timeout in seconds)
_STEPS: dict[str, tuple[str, str, int]] = {
    "deploy": ("Install and start the daemon", "daemon/deploy", 300),
    "get_status": ("Count the daemon's running processes", "daemon/get-status", 60),
    "start": ("Start the daemon", "daemon/start", 120),
    "stop": ("Stop the daemon", "daemon/stop", 120),
    "restart": ("Restart the daemon", "daemon/restart", 120),
    "remove": ("Stop and remove the daemon", "daemon/remove", 120),
}


async def build_context(
    session: AsyncSession, request: builtins.RunRequest
) -> builtins.ScriptContext:
    daemon = await session.scalar(select(Daemon).where(Daemon.id == request.resource_id))
    if daemon is None:
        raise builtins.ContextUnavailable(f"Daemon {request.resource_id} no longer exists.")
    env = {
        "DEVOPNESS_DAEMON_ID": str(daemon.id),
        "DEVOPNESS_DAEMON_NAME": daemon.name,
        "DEVOPNESS_DAEMON_COMMAND": daemon.command,
        "DEVOPNESS_DAEMON_USER": daemon.run_as_user,
        "DEVOPNESS_DAEMON_WORKING_DIRECTORY": daemon.working_directory or "",
        "DEVOPNESS_DAEMON_PROCESS_COUNT": str(daemon.process_count),
        "DEVOPNESS_DAEMON_APPLICATION_DIR_NAME": "",
        "DEVOPNESS_DAEMON_APPLICATION_ROOT": "",
    }
    if daemon.application_id is not None:
        # A linked application's daemon has a working directory relative to the root of
        # the application's live release (`<applications dir>/<app>/current/<root>`),
        # which the script resolves where the application deploy puts it.
        row = (await session.execute(
            select(Application.name, Application.root_directory)
            .where(Application.id == daemon.application_id)
        )).first()
        if row is not None:
            env["DEVOPNESS_DAEMON_APPLICATION_DIR_NAME"] = application_remote.directory_name(
                row.name)
            env["DEVOPNESS_DAEMON_APPLICATION_ROOT"] = application_remote.release_root(
                row.root_directory)
    return builtins.ScriptContext(env=env)


def register(settings: Settings) -> None:
    builtins.register_context_builder("daemon", build_context)
    for operation, (name, script, timeout) in _STEPS.items():
        register_default_steps("daemon", operation, [
            StepTemplate(name, builtins.script_command(script), timeout_seconds=timeout),
        ])

"""What a cron job does on its servers: a managed entry in the run-as user's crontab.

`deploy` writes the job between `# BEGIN devopness cronjob <id>` / `# END ...` marker lines
of the run-as user's crontab (replacing an earlier version of the same job); `remove` (on
delete) takes that block out. Entries outside our markers are never changed. See
`workers/scripts/cronjob/*.sh` and `app.actions.builtins`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins, targets
from app.applications import remote as application_remote
from app.core.settings import Settings
from app.cron_jobs.models import CronJob
from app.daemons import remote as daemon_remote
from app.resources_common.scripts import register_script_steps, resource_for


def context_builder(settings: Settings) -> builtins.ContextBuilder:
    async def build(
        session: AsyncSession, request: builtins.RunRequest
    ) -> builtins.ScriptContext:
        job = await resource_for(session, CronJob, request, "Cron job")
        context = builtins.ScriptContext()
        if job.application_id is not None and request.operation == "deploy":
            # A linked application's job runs in the root of its live release with the
            # application's variables and runtime (see workers/scripts/lib/daemon.sh).
            context = await application_remote.process_context(
                session, settings, job.application_id)
        context.env.update({
            "DEVOPNESS_CRONJOB_ID": str(job.id),
            "DEVOPNESS_CRONJOB_NAME": job.name,
            "DEVOPNESS_CRONJOB_PATTERN": job.pattern,
            "DEVOPNESS_CRONJOB_COMMAND": job.command,
            "DEVOPNESS_CRONJOB_USER": job.run_as_user,
            "DEVOPNESS_CRONJOB_APPLICATION": "1" if job.application_id is not None else "",
        })
        return context

    return build


async def servers_of_cron_job(session: AsyncSession, job_id: int) -> list[int]:
    return await daemon_remote.servers_of_application_process(
        session, "cronjob", CronJob, job_id)


def register(settings: Settings) -> None:
    builtins.register_context_builder("cronjob", context_builder(settings))
    targets.register_target_resolver("cronjob", servers_of_cron_job)
    register_script_steps("cronjob", {
        "deploy": ("Install the cron job in the crontab", "cronjob/deploy", 120),
        "remove": ("Remove the cron job from the crontab", "cronjob/remove", 120),
    })

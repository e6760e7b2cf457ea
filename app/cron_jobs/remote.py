"""What a cron job does on its servers: a managed entry in the run-as user's crontab.

`deploy` writes the job between `# BEGIN devopness cronjob <id>` / `# END ...` marker lines
of the run-as user's crontab (replacing an earlier version of the same job); `remove` (on
delete) takes that block out. Entries outside our markers are never changed. See
`workers/scripts/cronjob/*.sh` and `app.actions.builtins`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.service import StepTemplate, register_default_steps
from app.core.settings import Settings
from app.cron_jobs.models import CronJob


async def cron_job_context(
    session: AsyncSession, request: builtins.RunRequest
) -> builtins.ScriptContext:
    job = await session.get(CronJob, request.resource_id)
    if job is None:
        raise builtins.ContextUnavailable(f"Cron job {request.resource_id} no longer exists.")
    return builtins.ScriptContext(env={
        "DEVOPNESS_CRONJOB_ID": str(job.id),
        "DEVOPNESS_CRONJOB_NAME": job.name,
        "DEVOPNESS_CRONJOB_PATTERN": job.pattern,
        "DEVOPNESS_CRONJOB_COMMAND": job.command,
        "DEVOPNESS_CRONJOB_USER": job.run_as_user,
    })


def register(settings: Settings) -> None:
    builtins.register_context_builder("cronjob", cron_job_context)
    register_default_steps("cronjob", "deploy", [
        StepTemplate("Install the cron job in the crontab",
                     builtins.script_command("cronjob/deploy"), timeout_seconds=120),
    ])
    register_default_steps("cronjob", "remove", [
        StepTemplate("Remove the cron job from the crontab",
                     builtins.script_command("cronjob/remove"), timeout_seconds=120),
    ])

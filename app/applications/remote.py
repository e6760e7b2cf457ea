"""What a deployment does on an application's servers (see `app.actions.builtins`): the
deploy's default steps, registered with the context builder and result handler they use.
Its parts: `deploy_context` (the scripts' parameters), `deploy_source` (where the code
comes from) and `deploy_results` (what the action's `action_data` says).

`POST /applications/{id}/deployments` runs five built-in steps on every linked server:

1. Fetch source (`application/fetch`): update a cached bare mirror (`<app>/repo.git`), export
   the requested branch, tag or commit into a new release, `<app>/releases/<YYYY-MM-DD
   HH:MM:SS>/` (the deploy's UTC time; of two deploys of the same second the later one
   takes the next free second), write the application's variables there and link its
   shared paths.
2. Install runtime (`application/runtime`): install the application's engine version for
   the deploy user (`app.applications.runtimes`; sources and mirror settings in
   `workers/scripts/lib/runtime.sh`); a no-op when already there.
3. Install dependencies and build (`application/build`): run `install_dependencies_command`
   then `build_command` in the release's root directory, the runtime first on `PATH`; an
   empty one runs the stack's default (`app.static_options.stacks`), logged as "install
   dependencies (<stack> default)".
4. Activate release (`application/activate`): switch `<app>/current` to the release
   atomically, install or update and restart the application's daemons in it (a daemon
   that does not start switches `current` back), reload nginx when virtual hosts serve
   it, install the application's cron jobs, keep `deployments_keep` releases. The
   daemons and cron jobs run with `process_env` and the variables below.
5. Health check (`application/health-check`), with the runtime first on `PATH` too.

A failure in steps 1-3 removes the new release and leaves `current` as it was.

A default step with nothing to do (no runtime for the language; no install or build
command and no stack default; no health check configured; fetch and build in a rollback)
completes without a remote command, its log saying why (`deploy_context.noop_env`, the
parameter `DEVOPNESS_NOOP_SCRIPTS`); when the build is one of them, the fetch step marks
the release built. Custom steps always run.

Layout on the server: `<apps dir>/<application name>/` with `repo.git/`, `releases/<name>/`,
`shared/`, `current -> releases/<name>` and `.devopness/` (which release each deploy
action claimed and which action made each release, which commit each release holds, which
releases finished building, and for a deploy with a health check the release live
before its switch). Releases from
before timestamped names are named by their action's id and count as older than any
timestamped one (`workers/scripts/lib/release.sh`). `<apps dir>`
is the SSH user's home unless the server (or the application) has the variable
`DEVOPNESS_APPLICATIONS_DIR` (`DEVOPNESS_APPS_DIR` is accepted too).

Variables of the application, as they are deployed:

- `os-env-var`: written to `.env` in the release's root directory (one `KEY='value'` a
  line, quoted so that dotenv parsers and `set -a; . .env` read the value literally) and
  exported to the install, build and health check commands. A `resource-config-file`
  variable with the key `.env` replaces that file.
- `resource-config-file`: the value written to the file named by the key, relative to the
  release's root directory.
- `resource-symlink`: the key (relative path in the release) becomes a symbolic link to
  the value; `${APP_SHARED_DIR}` in the value names `<app>/shared`. A shared path that does
  not exist yet is seeded from the release (or created as a directory).

Beyond the reference, these `os-env-var` variables of the application steer the deploy and
are not written to `.env`:

- `DEVOPNESS_HEALTH_CHECK_URL`: after the switch, `curl -fsS` this URL until it answers
  with a 2xx/3xx status (`DEVOPNESS_HEALTH_CHECK_RETRIES` attempts, default 5, 3 seconds
  apart, each limited to `DEVOPNESS_HEALTH_CHECK_TIMEOUT` seconds, default 10).
- `DEVOPNESS_HEALTH_CHECK_COMMAND`: a shell command run in the new release (with the
  application's environment variables) that must exit 0; same retries.
  When the health check fails, `current` flips back to the previous release (daemons
  restarted, nginx reloaded again), the new release is removed and the action fails with
  the reason.
- `DEVOPNESS_GIT_URL`: clone from this git URL instead of the one derived from
  `repository` (a self-hosted Gitea or GitLab, a bare repository on the server...).
  `repository` itself may also hold a URL or an absolute path.
- `DEVOPNESS_GIT_SSH_KEY` (make it hidden): the private deploy key used for SSH git URLs.
  It is written to a temporary 0600 file only while git runs.

The application's credential (when it is linked to the application's environment) gives
the provider (GitHub, GitLab, Bitbucket) that turns `owner/name` into an HTTPS URL and its
access token, handed to git through `GIT_ASKPASS` (never in the URL, the log or the process
list), and only to that provider's host.

Deploy types: `deploy` fetches `source_type`/`source_ref` (the default branch when absent);
`redeploy` deploys again the commit of the live release; `rollback` switches `current` to
the newest finished release older than the live one (and fails when there is none).

The action's `action_data` follows the reference's `ActionDeploymentData`: the deployed
commit (hash, author, date, message, links) and `release_name` (the release folder's name)
are filled in from what the steps report.
"""

from __future__ import annotations

from app.actions import builtins
from app.actions.default_steps import StepTemplate, register_default_steps
from app.applications.deploy_context import (
    application_context_builder,
    directory_name,
    process_context,
    process_env,
)
from app.applications.deploy_results import deployment_data, results_handler
from app.applications.deploy_servers import application_context_prefetch
from app.applications.deploy_source import source_credential
from app.core.settings import Settings

# What other families and the applications service use from here.
__all__ = [
    "deployment_data", "directory_name", "process_context", "process_env", "register",
    "source_credential",
]


def register(settings: Settings) -> None:
    builtins.register_context_builder("application", application_context_builder(settings))
    builtins.register_context_prefetch("application", application_context_prefetch)
    # A failed build or activation removes the release the fetch step made: a retry
    # fetches again.
    builtins.register_undone_by_failure(builtins.script_command("application/fetch"))
    # The action shows one commit and release: every server of the deploy reports them.
    builtins.register_result_handler("application", results_handler(settings),
                                     per_action=True)
    register_default_steps("application", "deploy", [
        StepTemplate("Fetch source", builtins.script_command("application/fetch"),
                     timeout_seconds=900,
                     description="Export the branch, tag or commit into a new release and "
                                 "write the application's variables."),
        StepTemplate("Install runtime", builtins.script_command("application/runtime"),
                     timeout_seconds=3600,
                     description="Install the application's engine version for the deploy "
                                 "user, unless it is already there."),
        StepTemplate("Install dependencies and build",
                     builtins.script_command("application/build"), timeout_seconds=3600,
                     description="Run the install dependencies and build commands in the "
                                 "new release."),
        StepTemplate("Activate release", builtins.script_command("application/activate"),
                     timeout_seconds=600,
                     description="Switch `current` to the new release, restart daemons, "
                                 "reload virtual hosts, prune old releases."),
        StepTemplate("Health check", builtins.script_command("application/health-check"),
                     timeout_seconds=600,
                     description="Check the live release; switch back when it fails."),
    ])

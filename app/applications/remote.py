"""What a deployment does on an application's servers (see `app.actions.builtins`).

`POST /applications/{id}/deployments` runs five built-in steps on every linked server:

1. Fetch source (`application/fetch`): update a cached bare mirror (`<app>/repo.git`), export
   the requested branch, tag or commit into `<app>/releases/<action id>/`, write the
   application's variables there and link its shared paths.
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

Layout on the server: `<apps dir>/<application name>/` with `repo.git/`, `releases/<id>/`,
`shared/`, `current -> releases/<id>` and `.devopness/` (which commit each release holds,
which releases finished building, the release live before the last switch). `<apps dir>`
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
commit (hash, author, date, message, links) and `release_name` are filled in from what the
steps report.
"""

from __future__ import annotations

import base64
import contextlib
import re
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.default_steps import StepTemplate, register_default_steps
from app.actions.models import Action
from app.applications.models import Application
from app.applications.runtimes import bin_directory
from app.core import outbound
from app.core.security import SecretBox
from app.core.settings import Settings
from app.credentials.catalogue import ProviderType
from app.credentials.models import Credential
from app.credentials.repository import CredentialRepository
from app.credentials.secrets import unseal
from app.cron_jobs.models import CronJob
from app.daemons.models import Daemon
from app.resources_common.models import ResourceServer
from app.static_options import stacks
from app.static_options.catalog import LANGUAGE_RUNTIMES
from app.variables import reserved
from app.variables.repository import DeployableVariable, deployable_variables
from app.virtual_hosts.models import VirtualHost

# Application variables that steer the deployment itself (see the module docstring).
CONTROL_VARIABLES = reserved.APPLICATION_SETTINGS
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCP_LIKE = re.compile(r"^[\w.+-]+@[\w.-]+:")
# How each source provider takes a token over HTTPS (username, password = token).
_Linked = TypeVar("_Linked", Daemon, CronJob)
_TOKEN_USERS = {"github": "x-access-token", "gitlab": "oauth2", "bitbucket": "x-token-auth"}


def directory_name(application_name: str) -> str:
    """The application's directory under the applications dir: its name, with anything
    that cannot be one path component replaced (virtual hosts and daemons use it too)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", application_name).lstrip(".")
    return name or "application"


def release_root(root_directory: str | None) -> str:
    """`root_directory` ("/", "/src") as a path relative to a release ("", "src")."""
    parts = [p for p in (root_directory or "/").split("/") if p and p != "."]
    if ".." in parts:
        raise builtins.ContextUnavailable(
            f"The application's root directory {root_directory!r} leaves the repository."
        )
    return "/".join(parts)


def is_git_url(repository: str) -> bool:
    """A URL or path git reaches by itself (not the reference's `owner/name`)."""
    return "://" in repository or repository.startswith("/") or bool(
        _SCP_LIKE.match(repository)
    )


def provider_web_url(settings: Settings, provider_code: str) -> str | None:
    return {
        "github": settings.github_web_url,
        "gitlab": settings.gitlab_url,
        "bitbucket": settings.bitbucket_web_url,
    }.get(provider_code)


def source_links(
    settings: Settings, provider_code: str, repository: str, sha: str, fetched_from: str
) -> dict[str, str]:
    """The reference's commit links (`url`, `clone_url`, `download_url`) for a provider's
    `owner/name`; for another git URL (`fetched_from`) only `clone_url` is known."""
    web = provider_web_url(settings, provider_code)
    if web is None or is_git_url(repository) or not fetched_from.startswith(web):
        return {"url": "", "clone_url": _without_userinfo(fetched_from), "download_url": ""}
    base = f"{web.rstrip('/')}/{repository}"
    name = repository.partition("/")[2]
    if provider_code == "gitlab":
        url, download = f"{base}/-/commit/{sha}", f"{base}/-/archive/{sha}/{name}-{sha}.tar.gz"
    elif provider_code == "bitbucket":
        url, download = f"{base}/commits/{sha}", f"{base}/get/{sha}.tar.gz"
    else:
        url, download = f"{base}/commit/{sha}", f"{base}/archive/{sha}.tar.gz"
    return {"url": url, "clone_url": f"{base}.git", "download_url": download}


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return url


async def source_credential(
    session: AsyncSession, application: Application
) -> Credential | None:
    """The application's source provider credential, only when it is usable in the
    application's environment (`CredentialRepository.usable_in`): a bare id never reaches
    another tenant's secrets."""
    if application.credential_id is None:
        return None
    credential = await CredentialRepository(session).usable_in(
        application.credential_id, application.environment_id
    )
    if credential is None or credential.provider_type != ProviderType.SOURCE.value:
        return None
    return credential


async def deployment_data(
    session: AsyncSession, application: Application, deploy_type: str,
    source_type: str | None, source_ref: str | None,
) -> dict[str, Any]:
    """The action's initial `action_data` (the reference's `ActionDeploymentData`): what
    was asked for now; the commit and release are filled in as the steps report them."""
    credential = await source_credential(session, application)
    if deploy_type == "deploy":
        source_type = source_type or "branch"
        source_ref = source_ref or application.default_branch
    else:
        # A redeploy or rollback deploys what a server already has: the commit is known
        # once the fetch step reports it.
        source_type, source_ref = "commit", ""
    return {
        "release_name": "",
        "commit": {
            "repository": application.repository, "author_name": "", "author_email": "",
            "committed_at": "", "hash": "", "message": "", "url": "", "clone_url": "",
            "download_url": "",
        },
        "deployment": {
            "type": deploy_type,
            "source_type": source_type,
            "source_ref": source_ref,
            "repository": application.repository,
            "provider_name": credential.provider_code if credential else "git",
            "pipeline_id": 0,
        },
    }


def _lines(*rows: tuple[str, ...]) -> str:
    return "".join(" ".join(row) + "\n" for row in rows)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def dotenv_line(key: str, value: str) -> str:
    """`KEY='value'` (read literally by dotenv parsers and by the shell); values holding a
    quote or a newline are double-quoted with `\\`, `"`, `$`, `` ` `` and newlines escaped."""
    if "'" not in value and "\n" not in value and "\r" not in value:
        return f"{key}='{value}'\n"
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
        .replace("`", "\\`").replace("\r", "\\r").replace("\n", "\\n")
    )
    return f'{key}="{escaped}"\n'


def _variables_env(
    variables: list[DeployableVariable], context: builtins.ScriptContext
) -> dict[str, str]:
    """The script parameters that carry the application's variables: each value is base64
    in a line of its own, decoded on the server with `base64 -d` (never evaluated)."""
    env_rows: list[tuple[str, ...]] = []
    file_rows: list[tuple[str, ...]] = []
    link_rows: list[tuple[str, ...]] = []
    dotenv = ""
    for v in variables:
        if v.hidden and v.value:
            context.secrets.extend([v.value, _b64(v.value)])
        if v.target == "os-env-var" and v.type == "variable":
            if v.key in CONTROL_VARIABLES:
                if reserved.application_setting_problem(v.key, v.value) is None:
                    context.env[v.key] = v.value
            elif _ENV_NAME.match(v.key) and not reserved.is_reserved(v.key):
                env_rows.append((v.key, _b64(v.value)))
                dotenv += dotenv_line(v.key, v.value)
        elif v.target == "resource-config-file":
            file_rows.append(("0640" if v.hidden else "0644", _b64(v.key), _b64(v.value)))
        elif v.target == "resource-symlink":
            link_rows.append((_b64(v.key), _b64(v.value)))
    if dotenv and not any(base64.b64decode(row[1]).decode() == ".env" for row in file_rows):
        file_rows.insert(0, ("0640", _b64(".env"), _b64(dotenv)))
    return {
        "DEVOPNESS_APP_ENV": _lines(*env_rows),
        "DEVOPNESS_APP_FILES": _lines(*file_rows),
        "DEVOPNESS_APP_LINKS": _lines(*link_rows),
    }


def runtime_env(settings: Settings, application: Application) -> dict[str, str]:
    """The application's engine version for the runtime step and those after it: the
    runtime's bin directory (relative to the deploy user's home, empty when the language
    needs none) and the mirror setting of its language, by name for the step's messages."""
    language = application.programming_language or ""
    version = application.engine_version or ""
    setting = f"runtime_{language}_mirror"
    bin_dir = bin_directory(language, version) or ""
    offered = LANGUAGE_RUNTIMES.get(language, ("", [], {}))[1]
    problem = ""
    if bin_dir and version not in offered:
        # engine_version is free text in the API: only an offered one names a directory.
        problem = (f"engine version {version!r} of {language!r} is not one this server "
                   f"installs ({', '.join(offered) or 'none'}): update the application")
        bin_dir = ""
    return {
        "DEVOPNESS_APP_LANGUAGE": language,
        "DEVOPNESS_APP_ENGINE_VERSION": version,
        "DEVOPNESS_APP_RUNTIME_BIN": bin_dir,
        "DEVOPNESS_APP_RUNTIME_PROBLEM": problem,
        "DEVOPNESS_RUNTIME_MIRROR": str(getattr(settings, setting, "")),
        "DEVOPNESS_RUNTIME_MIRROR_SETTING": setting.upper(),
    }


def application_context_builder(settings: Settings) -> builtins.ContextBuilder:
    box = SecretBox(settings)

    async def build(session: AsyncSession, request: builtins.RunRequest) -> builtins.ScriptContext:
        application = await session.scalar(
            select(Application).where(Application.id == request.resource_id)
        )
        if application is None:
            raise builtins.ContextUnavailable(
                f"Application {request.resource_id} no longer exists."
            )
        deployment = request.action_data.get("deployment")
        deployment = deployment if isinstance(deployment, dict) else {}
        context = builtins.ScriptContext()
        context.env.update(_variables_env(
            await deployable_variables(session, box, "application", application.id), context
        ))
        url, token_user, token = await _git_source(
            session, settings, box, application, context.env.get("DEVOPNESS_GIT_URL")
        )
        if token:
            context.secrets.append(token)
        ssh_key = context.env.get("DEVOPNESS_GIT_SSH_KEY", "")
        if ssh_key:
            context.secrets.append(ssh_key)
        daemons = await _linked_here(session, Daemon, application.id, request.server_id)
        cronjobs = await _linked_here(session, CronJob, application.id, request.server_id)
        virtual_hosts = await session.scalar(
            select(VirtualHost.id).where(VirtualHost.application_id == application.id)
            .limit(1)
        )
        context.env.update({
            "DEVOPNESS_APPLICATION_ID": str(application.id),
            "DEVOPNESS_APPLICATION_NAME": application.name,
            "DEVOPNESS_APP_KEEP": str(max(1, application.deployments_keep)),
            **_commands_env(application),
            **process_env(application),
            "DEVOPNESS_APP_DAEMON_IDS": " ".join(str(d.id) for d in daemons),
            "DEVOPNESS_APP_DAEMONS": _lines(*(
                (str(d.id), _b64(d.name), _b64(d.command), d.run_as_user,
                 _b64(d.working_directory or "."), str(d.process_count)) for d in daemons
            )),
            "DEVOPNESS_APP_CRONJOBS": _lines(*(
                (str(c.id), _b64(c.name), _b64(c.pattern), _b64(c.command), c.run_as_user)
                for c in cronjobs
            )),
            "DEVOPNESS_APP_RELOAD_NGINX": "1" if virtual_hosts is not None else "0",
            "DEVOPNESS_DEPLOY_TYPE": str(deployment.get("type") or "deploy"),
            "DEVOPNESS_DEPLOY_SOURCE_TYPE": str(deployment.get("source_type") or "branch"),
            "DEVOPNESS_DEPLOY_SOURCE_REF": str(
                deployment.get("source_ref") or application.default_branch
            ),
            "DEVOPNESS_GIT_URL": url,
            "DEVOPNESS_GIT_USERNAME": token_user,
            "DEVOPNESS_GIT_TOKEN": token,
        })
        context.env.update(runtime_env(settings, application))
        return context

    return build


def _commands_env(application: Application) -> dict[str, str]:
    """The install and build commands: the application's own, or its stack's defaults
    (`app.static_options.stacks`) when it leaves them empty; the labels name which."""
    defaults = stacks.commands_for(application.programming_language, application.framework)
    stack = stacks.label_for(application.programming_language, application.framework,
                             application.framework_human_readable)
    env: dict[str, str] = {}
    for key, label, own, default in (
        ("INSTALL", "install dependencies", application.install_dependencies_command,
         defaults.install),
        ("BUILD", "build", application.build_command, defaults.build),
    ):
        command = (own or "").strip()
        if not command and default:
            command, label = default, f"{label} ({stack} default)"
        env[f"DEVOPNESS_APP_{key}_COMMAND"] = command
        env[f"DEVOPNESS_APP_{key}_LABEL"] = label
    return env


def process_env(application: Application) -> dict[str, str]:
    """Where the application's daemons and cron jobs run and which runtime they use
    (`workers/scripts/lib/daemon.sh`): the release root under `current`, the runtime's
    bin directory first on PATH (a Python application's `.venv/bin` before it)."""
    return {
        "DEVOPNESS_APPLICATION_DIR_NAME": directory_name(application.name),
        "DEVOPNESS_APP_ROOT_DIRECTORY": release_root(application.root_directory),
        "DEVOPNESS_APP_LANGUAGE": application.programming_language,
        "DEVOPNESS_APP_RUNTIME_BIN": bin_directory(
            application.programming_language, application.engine_version) or "",
    }


async def process_context(
    session: AsyncSession, settings: Settings, application_id: int
) -> builtins.ScriptContext:
    """What a daemon or cron job of the application needs to install itself: the
    application's `process_env`, its `os-env-var` variables (`DEVOPNESS_APP_ENV`, hidden
    values redacted) and its own applications directory when it sets one."""
    application = await session.get(Application, application_id)
    if application is None:
        raise builtins.ContextUnavailable(f"Application {application_id} no longer exists.")
    context = builtins.ScriptContext()
    full = builtins.ScriptContext()
    variables = _variables_env(
        await deployable_variables(session, SecretBox(settings), "application", application.id),
        full,
    )
    context.secrets = full.secrets
    context.env["DEVOPNESS_APP_ENV"] = variables["DEVOPNESS_APP_ENV"]
    for key in ("DEVOPNESS_APPLICATIONS_DIR", "DEVOPNESS_APPS_DIR"):
        if key in full.env:
            context.env[key] = full.env[key]
    context.env.update(process_env(application))
    return context


async def _linked_here(
    session: AsyncSession, model: type[_Linked], application_id: int, server_id: int
) -> list[_Linked]:
    """The application's daemons (or cron jobs) that run on this server: those linked to
    it, and those linked to no server (they run where their application runs)."""
    resource_type = str(model.RESOURCE_TYPE)
    linked = select(ResourceServer.resource_id).where(
        ResourceServer.resource_type == resource_type,
        ResourceServer.resource_id == model.id,
    )
    here = linked.where(ResourceServer.server_id == server_id)
    rows = await session.scalars(
        select(model).where(model.application_id == application_id)
        .where(here.exists() | ~linked.exists()).order_by(model.id)
    )
    return list(rows)


async def _git_source(
    session: AsyncSession, settings: Settings, box: SecretBox, application: Application,
    override: str | None,
) -> tuple[str, str, str]:
    """(git URL, token username, token) for the application's repository."""
    credential = await source_credential(session, application)
    if override:
        url = override
        await _check_git_host(url, settings)
    elif is_git_url(application.repository):
        url = application.repository
        await _check_git_host(url, settings)
    elif credential is not None and (web := provider_web_url(settings, credential.provider_code)):
        url = f"{web.rstrip('/')}/{application.repository}.git"
    else:
        raise builtins.ContextUnavailable(
            f"Cannot tell where repository {application.repository!r} is hosted: link the "
            "application's source provider credential to its environment, or set the "
            "application variable DEVOPNESS_GIT_URL."
        )
    if credential is None:
        return url, "", ""
    provider = urlsplit(provider_web_url(settings, credential.provider_code) or "")
    target = urlsplit(url)
    if not provider.scheme.startswith("http") or (
        target.scheme, target.hostname, target.port
    ) != (provider.scheme, provider.hostname, provider.port):
        # A token goes only to the provider it was issued for, the way it is configured
        # (HTTPS unless an operator set up a provider on plain HTTP).
        return url, "", ""
    values = unseal(box, credential.settings_encrypted)
    token = values.get("access_token", "")
    user = values.get("username") or _TOKEN_USERS.get(credential.provider_code, "git")
    return url, (user if token else ""), token


async def _check_git_host(url: str, settings: Settings) -> None:
    """A git URL a user gave passes the outbound policy (app.core.outbound): a deploy
    never points a server's fetch at an internal address. A name the control plane cannot
    resolve is left to the server (it may know names the control plane does not)."""
    host = outbound.url_host(url)
    if not host:
        return  # a path on the server itself
    try:
        outbound.check_host(host, settings)
        with contextlib.suppress(outbound.Unresolvable):
            await outbound.resolve(host, 0, settings)
    except outbound.OutboundRefused as exc:
        raise builtins.ContextUnavailable(f"The repository URL is refused: {exc}") from exc


def results_handler(settings: Settings) -> builtins.ResultHandler:
    async def store(
        session: AsyncSession, request: builtins.RunRequest, results: dict[str, str],
        succeeded: bool,
    ) -> None:
        """The steps report the deployed commit and release: keep them on the action."""
        if request.resource_type != "application" or not results:
            return
        action = await session.get(Action, request.action_id)
        if action is None:
            return
        data: dict[str, Any] = dict(action.action_data or {})
        commit: dict[str, Any] = dict(data.get("commit") or {})
        deployment: dict[str, Any] = dict(data.get("deployment") or {})
        fields = {"commit": "hash", "commit_author_name": "author_name",
                  "commit_author_email": "author_email", "commit_date": "committed_at",
                  "commit_message": "message"}
        for key, field in fields.items():
            if key in results:
                commit[field] = results[key][:500]
        sha = results.get("commit")
        if sha:
            commit.update(source_links(
                settings, str(deployment.get("provider_name") or "git"),
                str(commit.get("repository") or ""), sha, results.get("clone_url", ""),
            ))
            if deployment.get("type") in ("redeploy", "rollback"):
                deployment["source_ref"] = sha
        if "release" in results:
            data["release_name"] = results["release"][:100]
        if deployment.get("type") == "rollback" and sha:
            commit = await _released_commit(session, request, data["release_name"], commit)
        data["commit"], data["deployment"] = commit, deployment
        action.action_data = data

    return store


async def _released_commit(
    session: AsyncSession, request: builtins.RunRequest, release: str, commit: dict[str, Any]
) -> dict[str, Any]:
    """A rollback only switches to an existing release, so only the hash is reported;
    the release is named after the action that deployed it, which recorded the commit's
    author, date and message (needed for the commit to be shown at all)."""
    if not release.isdigit():
        return commit
    origin = await session.get(Action, int(release))
    if origin is None or (origin.resource_type, origin.resource_id) != (
        request.resource_type, request.resource_id
    ):
        return commit
    recorded = (origin.action_data or {}).get("commit")
    if not isinstance(recorded, dict) or recorded.get("hash") != commit.get("hash"):
        return commit
    return {**commit, **{k: v for k, v in recorded.items() if v}}


def register(settings: Settings) -> None:
    builtins.register_context_builder("application", application_context_builder(settings))
    builtins.register_result_handler("application", results_handler(settings))
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

"""The parameters a deploy's scripts run with (`workers/scripts/application/`), as
environment variables: the application's variables (base64, never evaluated), its source,
runtime, commands (or its stack's defaults), daemons and cron jobs, and the release's
name and time; and what the application's daemons and cron jobs need on their own."""

from __future__ import annotations

import base64
import re
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.models import Action
from app.applications.deploy_servers import on_server
from app.applications.deploy_source import git_source
from app.applications.models import Application
from app.applications.runtimes import bin_directory
from app.core.security import SecretBox
from app.core.settings import Settings
from app.static_options import stacks
from app.static_options.catalog import LANGUAGE_RUNTIMES
from app.variables import reserved
from app.variables.repository import DeployableVariable, deployable_variables
from app.virtual_hosts.models import VirtualHost

# Per-session memo of the parts of a deploy's context alike on all its servers.
_SHARED = "deploy_context_shared"

# Application variables that steer the deployment itself (see app.applications.remote).
CONTROL_VARIABLES = reserved.APPLICATION_SETTINGS
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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

    async def shared(session: AsyncSession, request: builtins.RunRequest
                     ) -> tuple[Application, builtins.ScriptContext]:
        """What every server of the deploy gets alike: read and decrypted once per action
        (a deploy to N servers builds N contexts in one session)."""
        memo = session.info.setdefault(_SHARED, {})
        key = (request.action_id, request.resource_id)
        if key in memo:
            return cast(tuple[Application, builtins.ScriptContext], memo[key])
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
        url, token_user, token = await git_source(
            session, settings, box, application, context.env.get("DEVOPNESS_GIT_URL")
        )
        if token:
            context.secrets.append(token)
        ssh_key = context.env.get("DEVOPNESS_GIT_SSH_KEY", "")
        if ssh_key:
            context.secrets.append(ssh_key)
        virtual_hosts = await session.scalar(
            select(VirtualHost.id).where(VirtualHost.application_id == application.id)
            .limit(1)
        )
        created = await session.scalar(
            select(Action.created_at).where(Action.id == request.action_id))
        context.env.update({
            "DEVOPNESS_APPLICATION_ID": str(application.id),
            "DEVOPNESS_APPLICATION_NAME": application.name,
            "DEVOPNESS_APP_KEEP": str(max(1, application.deployments_keep)),
            **_commands_env(application),
            **process_env(application),
            "DEVOPNESS_RELEASE_TIME": str(int(created.timestamp())) if created else "",
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
        memo[key] = (application, context)
        return application, context

    async def build(session: AsyncSession, request: builtins.RunRequest) -> builtins.ScriptContext:
        _, alike = await shared(session, request)
        context = builtins.ScriptContext()
        context.env.update(alike.env)
        context.secrets.extend(alike.secrets)
        here = await on_server(session, request)
        context.env.update({
            "DEVOPNESS_APP_RUNNING_ACTIONS": " ".join(str(a) for a in here.running),
            "DEVOPNESS_APP_DAEMON_IDS": " ".join(str(d.id) for d in here.daemons),
            "DEVOPNESS_APP_DAEMONS": _lines(*(
                (str(d.id), _b64(d.name), _b64(d.command), d.run_as_user,
                 _b64(d.working_directory or "."), str(d.process_count)) for d in here.daemons
            )),
            "DEVOPNESS_APP_CRONJOBS": _lines(*(
                (str(c.id), _b64(c.name), _b64(c.pattern), _b64(c.command), c.run_as_user)
                for c in here.cronjobs
            )),
        })
        context.env.update(noop_env(context.env))
        return context

    return build


# The deploy's scripts with nothing to do go in builtins.NOOP_SCRIPTS. The fetch step reads
# it too: when the build is one of them, it marks the release built.


def noop_env(env: dict[str, str]) -> dict[str, str]:
    """Which default steps have nothing to do with these parameters, and why: decided here
    once, by the same tests their scripts make (`workers/scripts/application/*.sh`)."""
    noop: list[tuple[str, str]] = []
    rollback = env.get("DEVOPNESS_DEPLOY_TYPE") == "rollback"
    if rollback:
        noop.append(("application/fetch",
                     "rollback: nothing to fetch, an existing release becomes live"))
    if not env.get("DEVOPNESS_APP_RUNTIME_BIN") and not env.get("DEVOPNESS_APP_RUNTIME_PROBLEM"):
        language = env.get("DEVOPNESS_APP_LANGUAGE") or "no language"
        version = env.get("DEVOPNESS_APP_ENGINE_VERSION")
        noop.append(("application/runtime",
                     f"no runtime needed ({language}{' ' + version if version else ''})"))
    if rollback:
        noop.append(("application/build", "rollback: nothing to build"))
    elif not (env.get("DEVOPNESS_APP_INSTALL_COMMAND") or env.get("DEVOPNESS_APP_BUILD_COMMAND")):
        noop.append(("application/build", "nothing to build: no install dependencies command, "
                                          "no build command and no stack default"))
    if not env.get("DEVOPNESS_HEALTH_CHECK_URL") and not env.get("DEVOPNESS_HEALTH_CHECK_COMMAND"):
        noop.append(("application/health-check",
                     "no health check configured (application variable "
                     "DEVOPNESS_HEALTH_CHECK_URL or DEVOPNESS_HEALTH_CHECK_COMMAND)"))
    return {builtins.NOOP_SCRIPTS: "".join(f"{name} Nothing to do: {why}\n" for name, why in noop)}


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

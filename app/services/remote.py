"""What a service does on its servers: its Debian/Ubuntu packages installed with apt, and
its init unit started, stopped, restarted, reloaded and enabled at boot (systemd where it
runs, else the SysV script the package ships). Scripts: `workers/scripts/service/*.sh`,
helpers in `workers/scripts/lib/service.sh`.

See `app.actions.builtins`; `register()` is called by `app.wiring.register_all`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.core.settings import Settings
from app.resources_common.scripts import ScriptSteps, register_script_steps, resource_for
from app.services.models import Service


@dataclass(frozen=True)
class Recipe:
    """How one service type is installed and run. `packages` are apt package names
    (`{version}` is the service's version); "a|b" installs the first one the server's apt
    sources offer. `unit` is the systemd unit and SysV script name. `version_package`,
    for types whose package name does not carry the version, is the package whose
    upstream version must start with the service's version."""

    packages: tuple[str, ...]
    unit: str
    version_package: str | None = None


# One entry per type of `app.static_options.catalog.SERVICE_TYPES`.
RECIPES: dict[str, Recipe] = {
    "docker": Recipe(("docker.io|docker-ce",), "docker"),
    "mysql": Recipe(("mysql-server-{version}|mysql-community-server",), "mysql",
                    version_package="mysql-server-{version}|mysql-community-server"),
    "newrelic-infra": Recipe(("newrelic-infra",), "newrelic-infra"),
    "nginx": Recipe(("nginx",), "nginx"),
    "php": Recipe(("php{version}-fpm", "php{version}-cli"), "php{version}-fpm"),
    "postgresql": Recipe(("postgresql-{version}",), "postgresql"),
    "redis": Recipe(("redis-server",), "redis-server", version_package="redis-server"),
    "supervisor": Recipe(("supervisor",), "supervisor"),
    "ufw": Recipe(("ufw",), "ufw"),
}

_STEPS: ScriptSteps = {
    "deploy": ("Install and configure the service", "service/deploy", 1800),
    "get_status": ("Check the service's state", "service/get-status", 60),
    "start": ("Start the service", "service/start", 300),
    "stop": ("Stop the service", "service/stop", 300),
    "restart": ("Restart the service", "service/restart", 300),
    "reload": ("Reload the service's configuration", "service/reload", 300),
}


def service_env(kind: str, version: str) -> dict[str, str]:
    """The packages and unit of a service type at a version, as script parameters."""
    recipe = RECIPES.get(kind)
    if recipe is None:
        raise builtins.ContextUnavailable(f"Services of type {kind!r} cannot be installed.")
    if version == "latest" and any("{version}" in p for p in recipe.packages):
        raise builtins.ContextUnavailable(f"A {kind} service needs a version.")

    def fill(template: str) -> str:
        return template.replace("{version}", version)

    version_package = recipe.version_package
    return {
        "DEVOPNESS_SERVICE_PACKAGES": " ".join(fill(p) for p in recipe.packages),
        "DEVOPNESS_SERVICE_UNIT": fill(recipe.unit),
        "DEVOPNESS_SERVICE_VERSION_PACKAGE": (
            fill(version_package) if version_package and version != "latest" else ""
        ),
    }


async def build_context(
    session: AsyncSession, request: builtins.RunRequest
) -> builtins.ScriptContext:
    service = await resource_for(session, Service, request, "Service")
    version = service.version or "latest"
    env = {
        "DEVOPNESS_SERVICE_ID": str(service.id),
        "DEVOPNESS_SERVICE_NAME": service.name,
        "DEVOPNESS_SERVICE_TYPE": service.type,
        "DEVOPNESS_SERVICE_VERSION": version,
        "DEVOPNESS_SERVICE_AUTO_START": "true" if service.auto_start else "false",
        "DEVOPNESS_SERVICE_INITIAL_STATE": str(service.initial_state),
    }
    env.update(service_env(service.type, version))
    return builtins.ScriptContext(env=env)


def register(settings: Settings) -> None:
    builtins.register_context_builder("service", build_context)
    register_script_steps("service", _STEPS)

"""Cross-domain registrations, made once when the application is built.

Environment resources (servers, applications...) become addressable by `/resource-links`
and `/events`. Which servers a resource runs on stays in the resources' own link table
(`resource_servers`), so no user link rules are declared for those pairs here: one source
of truth for deployment targets.
"""

from __future__ import annotations

from app.resource_links.registry import environment_resource_type, register_resource_type
from app.resources_common.registry import resource_models

_HUMAN = {
    "application": "Application",
    "cronjob": "Cron Job",
    "daemon": "Daemon",
    "network-rule": "Network Rule",
    "server": "Server",
    "service": "Service",
    "ssh-key": "SSH Key",
    "ssl-certificate": "SSL Certificate",
    "virtual-host": "Virtual Host",
}

_done = False


def register_all() -> None:
    global _done
    if _done:
        return
    for resource_type, model in resource_models().items():
        name_column = model.hostname if resource_type == "server" else None  # type: ignore[attr-defined]
        register_resource_type(
            environment_resource_type(
                resource_type,
                _HUMAN.get(resource_type, resource_type),
                model,
                name_column=name_column,
            )
        )
    _done = True

"""Resource type -> model, for routes addressed by `{resource_type}/{resource_id}` and for
`linked_resources`. An explicit table: adding a type is a reviewed one-line change."""

from __future__ import annotations

from app.resources_common.models import EnvironmentResource


def resource_models() -> dict[str, type[EnvironmentResource]]:
    # Imported here: each resource package imports resources_common at import time.
    from app.applications.models import Application
    from app.cron_jobs.models import CronJob
    from app.daemons.models import Daemon
    from app.network_rules.models import NetworkRule
    from app.servers.models import Server
    from app.services.models import Service
    from app.ssh_keys.models import SshKey
    from app.ssl_certificates.models import SslCertificate
    from app.virtual_hosts.models import VirtualHost

    models: list[type[EnvironmentResource]] = [
        Application, CronJob, Daemon, NetworkRule, Server, Service, SshKey, SslCertificate,
        VirtualHost,
    ]
    return {str(m.RESOURCE_TYPE): m for m in models}

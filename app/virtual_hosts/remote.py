"""What a virtual host does on its servers: an nginx site per host (`devopness-vh-<id>`),
rendered by `workers/scripts/lib/nginx.sh`, tested with `nginx -t` before nginx reloads.

See `app.actions.builtins`; `register()` is called by `app.wiring.register_all`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.default_steps import StepTemplate, register_default_steps
from app.applications.models import Application
from app.applications.remote import directory_name
from app.core.settings import Settings
from app.ssl_certificates.models import SslCertificate
from app.virtual_hosts.models import VirtualHost


async def virtual_host_env(session: AsyncSession, host: VirtualHost) -> dict[str, str]:
    """The parameters the site renderer (`dv_vh_render`) reads. Shared with SSL
    certificates, whose deploy re-renders the host's site with TLS."""
    application = (
        await session.get(Application, host.application_id) if host.application_id else None
    )
    certificate = await session.scalar(
        select(SslCertificate).where(SslCertificate.virtual_host_id == host.id)
    )
    return {
        "DEVOPNESS_VH_ID": str(host.id),
        "DEVOPNESS_VH_NAME": host.name,
        "DEVOPNESS_VH_TYPE": host.type,
        "DEVOPNESS_VH_ROOT": host.root_directory or "",
        "DEVOPNESS_VH_PROXY": host.application_listen_address or "",
        # The site serves `<applications dir>/<name>/current[/<root>]`, the release that
        # the application's deploy switched to.
        "DEVOPNESS_VH_APPLICATION": directory_name(application.name) if application else "",
        # TLS is rendered only once the certificate's files are on the server.
        "DEVOPNESS_VH_SSL_ID": str(certificate.id) if certificate else "",
        "DEVOPNESS_VH_SSL_ISSUER": certificate.issuer if certificate else "",
    }


async def build_context(
    session: AsyncSession, request: builtins.RunRequest
) -> builtins.ScriptContext:
    host = await session.get(VirtualHost, request.resource_id)
    if host is None:
        raise builtins.ContextUnavailable(f"Virtual host {request.resource_id} no longer exists.")
    return builtins.ScriptContext(env=await virtual_host_env(session, host))


def register(settings: Settings) -> None:
    builtins.register_context_builder("virtual-host", build_context)
    register_default_steps("virtual-host", "deploy", [
        StepTemplate("Install the nginx site", builtins.script_command("virtual-host/deploy"),
                     timeout_seconds=120),
    ])
    register_default_steps("virtual-host", "get_status", [
        StepTemplate("Check the nginx site", builtins.script_command("virtual-host/get-status"),
                     timeout_seconds=60),
    ])
    register_default_steps("virtual-host", "remove", [
        StepTemplate("Remove the nginx site", builtins.script_command("virtual-host/remove"),
                     timeout_seconds=120),
    ])

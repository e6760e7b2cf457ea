"""What an SSL certificate does on its virtual host's servers: install an uploaded
certificate and key, or have certbot obtain one from an ACME CA (Let's Encrypt) over
HTTP-01 and schedule its renewal; then re-render the host's nginx site with TLS.

See `app.actions.builtins`; `register()` is called by `app.wiring.register_all`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.default_steps import StepTemplate, register_default_steps
from app.core.security import SecretBox
from app.core.settings import Settings
from app.ssl_certificates.models import SslCertificate
from app.users.models import User
from app.virtual_hosts.models import VirtualHost
from app.virtual_hosts.remote import virtual_host_env


def certificate_context_builder(settings: Settings) -> builtins.ContextBuilder:
    box = SecretBox(settings)

    async def build(
        session: AsyncSession, request: builtins.RunRequest
    ) -> builtins.ScriptContext:
        certificate = await session.get(SslCertificate, request.resource_id)
        if certificate is None:
            raise builtins.ContextUnavailable(
                f"SSL certificate {request.resource_id} no longer exists."
            )
        host = await session.get(VirtualHost, certificate.virtual_host_id)
        if host is None:
            raise builtins.ContextUnavailable(
                f"Virtual host {certificate.virtual_host_id} no longer exists."
            )
        context = builtins.ScriptContext(env=await virtual_host_env(session, host))
        context.env.update({
            "DEVOPNESS_SSL_ID": str(certificate.id),
            "DEVOPNESS_SSL_NAME": certificate.name,
            "DEVOPNESS_SSL_ISSUER": certificate.issuer,
        })
        if certificate.issuer == "custom":
            context.env["DEVOPNESS_SSL_CERTIFICATE"] = certificate.custom_certificate or ""
            if certificate.custom_private_key_encrypted:
                key = box.decrypt(certificate.custom_private_key_encrypted)
                context.env["DEVOPNESS_SSL_PRIVATE_KEY"] = key
                context.secrets.append(key)
        else:
            # The ACME account's contact: expiry warnings reach whoever added the certificate.
            creator = await session.get(User, certificate.created_by)
            context.env["DEVOPNESS_ACME_EMAIL"] = creator.email if creator else ""
        return context

    return build


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def store_results(
    session: AsyncSession, request: builtins.RunRequest, results: dict[str, str],
    succeeded: bool,
) -> None:
    """A deploy reports the installed certificate's validity: it becomes the record's
    expiry and renewal dates, and the certificate is active."""
    if request.operation != "deploy" or not succeeded:
        return
    certificate = await session.get(SslCertificate, request.resource_id)
    if certificate is None:
        return
    expires_at = _timestamp(results.get("expires_at"))
    if expires_at is not None:
        certificate.expires_at = expires_at
    renewed_at = _timestamp(results.get("not_before"))
    if renewed_at is not None:
        certificate.last_renewed_at = renewed_at
    certificate.active = True


def register(settings: Settings) -> None:
    builtins.register_context_builder("ssl-certificate", certificate_context_builder(settings))
    builtins.register_result_handler("ssl-certificate", store_results)
    register_default_steps("ssl-certificate", "deploy", [
        StepTemplate("Install the certificate and enable TLS",
                     builtins.script_command("ssl-certificate/deploy"), timeout_seconds=600),
    ])
    register_default_steps("ssl-certificate", "remove", [
        StepTemplate("Disable TLS and remove the certificate",
                     builtins.script_command("ssl-certificate/remove"), timeout_seconds=300),
    ])

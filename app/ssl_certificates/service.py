"""SSL certificates of virtual hosts: uploaded (custom) or to be issued by Let's Encrypt."""

from __future__ import annotations

from datetime import UTC

from cryptography.x509.oid import NameOID
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.core.errors import ValidationFailed
from app.core.security import SecretBox
from app.core.settings import Settings
from app.resources_common.service import EnvironmentResourceService, ownership
from app.resources_common.validators import PemKeyError, check_certificate_and_key
from app.ssl_certificates.models import SslCertificate
from app.ssl_certificates.repository import SslCertificateRepository
from app.ssl_certificates.schemas import SslCertificateEnvironmentCreate
from app.virtual_hosts.models import VirtualHost, VirtualHostType


class SslCertificateService(EnvironmentResourceService[SslCertificate]):
    label = "SSL certificate"
    resource_type = "ssl-certificate"

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.certificates = SslCertificateRepository(session)
        self.box = SecretBox(settings)
        super().__init__(session, self.certificates)

    async def create(
        self, principal: Principal, environment_id: int, data: SslCertificateEnvironmentCreate
    ) -> SslCertificate:
        environment = await self.environment_for_create(principal, environment_id)
        await self.access.reference(
            principal, "virtual-host", data.virtual_host_id, field="virtual_host_id",
            environment_id=environment_id,
        )
        host = await self.session.get(VirtualHost, data.virtual_host_id)
        assert host is not None
        if host.type != VirtualHostType.NAME_BASED:
            raise ValidationFailed.field(
                "virtual_host_id", "SSL certificates are issued for name-based virtual hosts."
            )
        if await self.certificates.for_virtual_host(host.id) is not None:
            raise ValidationFailed.field(
                "virtual_host_id", "This virtual host already has an SSL certificate."
            )
        certificate = SslCertificate(
            **ownership(environment, principal),
            name=host.name,
            virtual_host_id=host.id,
            issuer=data.issuer,
            type=data.type,
            validation_level=data.validation_level,
            active=False,
        )
        if data.issuer == "custom":
            assert data.custom_certificate is not None and data.custom_private_key is not None
            try:
                parsed = check_certificate_and_key(
                    data.custom_certificate, data.custom_private_key
                )
            except PemKeyError as exc:
                raise ValidationFailed.field(
                    "custom_private_key", f"The custom private key {exc}."
                ) from None
            except ValueError as exc:
                raise ValidationFailed.field(
                    "custom_certificate", f"The custom certificate {exc}."
                ) from None
            names = _certificate_names(parsed)
            if not _covers(names, host.name):
                raise ValidationFailed.field(
                    "custom_certificate",
                    f"The custom certificate does not cover {host.name} (it names "
                    + (", ".join(names) or "no host") + ").",
                )
            certificate.custom_certificate = data.custom_certificate
            certificate.custom_private_key_encrypted = self.box.encrypt(data.custom_private_key)
            certificate.expires_at = parsed.not_valid_after_utc.astimezone(UTC)
            certificate.last_renewed_at = parsed.not_valid_before_utc.astimezone(UTC)
            certificate.active = True
        await self.certificates.add(certificate)
        return await self.created(certificate)


def _certificate_names(certificate: object) -> list[str]:
    from cryptography import x509

    assert isinstance(certificate, x509.Certificate)
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    if not names:
        names = [
            str(a.value).lower()
            for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ]
    return names


def _covers(names: list[str], host: str) -> bool:
    for name in names:
        if name == host:
            return True
        if name.startswith("*.") and host.split(".", 1)[-1] == name[2:] and "." in host:
            return True
    return False

from __future__ import annotations

from sqlalchemy import select

from app.resources_common.repository import EnvironmentResourceRepository
from app.ssl_certificates.models import SslCertificate


class SslCertificateRepository(EnvironmentResourceRepository[SslCertificate]):
    model = SslCertificate

    async def for_virtual_host(self, virtual_host_id: int) -> int | None:
        return await self.session.scalar(
            select(SslCertificate.id).where(SslCertificate.virtual_host_id == virtual_host_id)
        )

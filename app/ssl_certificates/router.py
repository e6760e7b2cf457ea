"""HTTP for SSL certificates: the routes every environment resource has, and its operations
(`deploy`)."""

from __future__ import annotations

from app.core.deps import SessionDep, SettingsDep
from app.resources_common.router import environment_resource_router
from app.ssl_certificates import schemas
from app.ssl_certificates.service import SslCertificateService


async def get_service(session: SessionDep, settings: SettingsDep) -> SslCertificateService:
    return SslCertificateService(session, settings)


router = environment_resource_router(
    "SSL Certificates", get_service, ("ssl-certificates", "ssl_certificate_id", "SslCertificate"),
    (schemas.SslCertificate, schemas.SslCertificateRelation,
     schemas.SslCertificateEnvironmentCreate, None),
    [("deploy", "deploySslCertificate")],
)

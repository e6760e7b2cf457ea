from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.core.deps import SessionDep, SettingsDep
from app.resources_common.router import Route, add_operation_routes, add_routes
from app.ssl_certificates import schemas
from app.ssl_certificates.service import SslCertificateService

router = APIRouter(tags=["SSL Certificates"])


def get_service(session: SessionDep, settings: SettingsDep) -> SslCertificateService:
    return SslCertificateService(session, settings)


Service = Annotated[SslCertificateService, Depends(get_service)]


add_routes(router, Service, [
    Route("GET", "/environments/{environment_id:int}/ssl-certificates",
          "listEnvironmentSslCertificates", "list", list[schemas.SslCertificateRelation],
          paged=True),
    Route("POST", "/environments/{environment_id:int}/ssl-certificates",
          "addEnvironmentSslCertificate", "create", schemas.SslCertificate, 201,
          schemas.SslCertificateEnvironmentCreate),
    Route("GET", "/ssl-certificates/{ssl_certificate_id:int}", "getSslCertificate", "get",
          schemas.SslCertificate),
    Route("DELETE", "/ssl-certificates/{ssl_certificate_id:int}", "deleteSslCertificate", "delete",
          None, 204),
])


add_operation_routes(router, "/ssl-certificates", "ssl_certificate_id", get_service,
                     [("deploy", "deploySslCertificate")])

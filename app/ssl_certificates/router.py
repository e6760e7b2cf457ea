from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access.auth import CurrentPrincipal
from app.core.deps import SessionDep, SettingsDep
from app.core.pagination import PageDep
from app.resources_common.router import add_operation_routes, no_content
from app.ssl_certificates import schemas
from app.ssl_certificates.models import SslCertificate
from app.ssl_certificates.service import SslCertificateService

router = APIRouter(tags=["SSL Certificates"])


def get_service(session: SessionDep, settings: SettingsDep) -> SslCertificateService:
    return SslCertificateService(session, settings)


Service = Annotated[SslCertificateService, Depends(get_service)]


@router.get(
    "/environments/{environment_id:int}/ssl-certificates",
    operation_id="listEnvironmentSslCertificates",
    response_model=list[schemas.SslCertificateRelation],
)
async def list_environment_ssl_certificates(
    environment_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[SslCertificate]:
    return await service.list(principal, environment_id, page)


@router.post(
    "/environments/{environment_id:int}/ssl-certificates",
    operation_id="addEnvironmentSslCertificate",
    status_code=201,
    response_model=schemas.SslCertificate,
)
async def add_environment_ssl_certificate(
    environment_id: int,
    data: schemas.SslCertificateEnvironmentCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> SslCertificate:
    return await service.create(principal, environment_id, data)


@router.get(
    "/ssl-certificates/{ssl_certificate_id:int}",
    operation_id="getSslCertificate",
    response_model=schemas.SslCertificate,
)
async def get_ssl_certificate(
    ssl_certificate_id: int, service: Service, principal: CurrentPrincipal
) -> SslCertificate:
    return await service.get(principal, ssl_certificate_id)


@router.delete(
    "/ssl-certificates/{ssl_certificate_id:int}",
    operation_id="deleteSslCertificate",
    status_code=204,
    response_class=Response,
)
async def delete_ssl_certificate(
    ssl_certificate_id: int, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, ssl_certificate_id)
    return no_content()


add_operation_routes(router, "/ssl-certificates", "ssl_certificate_id", get_service,
                     [("deploy", "deploySslCertificate")])

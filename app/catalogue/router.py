from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path

from app.access.auth import CurrentPrincipal
from app.catalogue import service
from app.core.pagination import PageDep, paginate_list

router = APIRouter(tags=["Static Data"])

Code = Annotated[str, Path(max_length=64)]


@router.get("/static/credential-options", operation_id="getStaticCredentialOptions")
async def get_credential_options(principal: CurrentPrincipal) -> dict[str, Any]:
    return service.credential_options()


@router.get(
    "/static/cloud-provider-service-options/{cloud_provider_service_code}",
    operation_id="getStaticCloudProviderService",
)
async def get_cloud_provider_service(
    cloud_provider_service_code: Code, principal: CurrentPrincipal
) -> dict[str, Any]:
    return service.cloud_service(cloud_provider_service_code)


@router.get(
    "/static/cloud-provider-service-options/{cloud_provider_service_code}/regions/"
    "{region_code}/instances",
    operation_id="listStaticCloudInstancesByCloudProviderServiceCodeAndRegionCode",
)
async def list_cloud_instances(
    cloud_provider_service_code: Code,
    region_code: Code,
    principal: CurrentPrincipal,
    page: PageDep,
) -> Sequence[dict[str, Any]]:
    return paginate_list(service.instances(cloud_provider_service_code, region_code), page)

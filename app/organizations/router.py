from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access.auth import CurrentPrincipal, CurrentUserPrincipal
from app.core.deps import SessionDep
from app.core.pagination import PageDep
from app.organizations import schemas
from app.organizations.models import Organization
from app.organizations.service import OrganizationService

router = APIRouter(tags=["Organizations"])


def get_service(session: SessionDep) -> OrganizationService:
    return OrganizationService(session)


Service = Annotated[OrganizationService, Depends(get_service)]


async def _present(
    service: OrganizationService, organization: Organization
) -> schemas.Organization:
    body = schemas.Organization.model_validate(organization)
    body.resource_summary = await service.summary(organization)
    return body


@router.get(
    "/organizations",
    operation_id="listOrganizations",
    response_model=list[schemas.OrganizationListItem],
)
async def list_organizations(
    service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[Organization]:
    return await service.list_readable(principal, page)


@router.post(
    "/organizations",
    operation_id="addOrganization",
    status_code=201,
    response_model=schemas.Organization,
)
async def add_organization(
    data: schemas.OrganizationCreate, service: Service, principal: CurrentUserPrincipal
) -> schemas.Organization:
    return await _present(service, await service.create(principal, data))


@router.get(
    "/organizations/{organization_id}",
    operation_id="getOrganization",
    response_model=schemas.Organization,
)
async def get_organization(
    organization_id: str, service: Service, principal: CurrentPrincipal
) -> schemas.Organization:
    return await _present(service, await service.get(principal, organization_id))


@router.put(
    "/organizations/{organization_id}",
    operation_id="updateOrganization",
    status_code=204,
    response_class=Response,
)
async def update_organization(
    organization_id: str,
    data: schemas.OrganizationUpdate,
    service: Service,
    principal: CurrentPrincipal,
) -> Response:
    await service.update(principal, organization_id, data)
    return Response(status_code=204)


@router.delete(
    "/organizations/{organization_id}",
    operation_id="deleteOrganization",
    status_code=204,
    response_class=Response,
)
async def delete_organization(
    organization_id: str, service: Service, principal: CurrentPrincipal
) -> Response:
    await service.delete(principal, organization_id)
    return Response(status_code=204)

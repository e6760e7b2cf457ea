from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.access.auth import CurrentPrincipal, CurrentUserPrincipal
from app.access.routes import Route, add_routes
from app.core.deps import SessionDep
from app.organizations import schemas
from app.organizations.models import Organization
from app.organizations.service import OrganizationService

router = APIRouter(tags=["Organizations"])


async def get_service(session: SessionDep) -> OrganizationService:
    return OrganizationService(session)


Service = Annotated[OrganizationService, Depends(get_service)]


async def _present(
    service: OrganizationService, organization: Organization
) -> schemas.Organization:
    body = schemas.Organization.model_validate(organization)
    body.resource_summary = await service.summary(organization)
    return body


async def add_organization(
    data: schemas.OrganizationCreate, service: Service, principal: CurrentUserPrincipal
) -> schemas.Organization:
    return await _present(service, await service.create(principal, data))


async def get_organization(
    organization_id: str, service: Service, principal: CurrentPrincipal
) -> schemas.Organization:
    return await _present(service, await service.get(principal, organization_id))


add_routes(router, Service, [
    Route("GET", "/organizations", "listOrganizations", "list_readable",
          list[schemas.OrganizationListItem], paged=True),
    Route("POST", "/organizations", "addOrganization", add_organization, schemas.Organization, 201,
          schemas.OrganizationCreate, principal=CurrentUserPrincipal),
    Route("GET", "/organizations/{organization_id}", "getOrganization", get_organization,
          schemas.Organization),
    Route("PUT", "/organizations/{organization_id}", "updateOrganization", "update", None, 204,
          schemas.OrganizationUpdate),
    Route("DELETE", "/organizations/{organization_id}", "deleteOrganization", "delete", None, 204),
])

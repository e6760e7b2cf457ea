from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access.auth import CurrentPrincipal, CurrentUserPrincipal, PrincipalCacheDep
from app.core.deps import SessionDep, SettingsDep
from app.core.pagination import PageDep
from app.tokens import schemas
from app.tokens.models import ApiToken
from app.tokens.service import TokenService

router = APIRouter()


def get_service(session: SessionDep, settings: SettingsDep) -> TokenService:
    return TokenService(session, settings)


Service = Annotated[TokenService, Depends(get_service)]

PAT_TAG = "Users - Personal Access Tokens"
PROJECT_TAG = "Projects - API Tokens"


@router.get(
    "/users/personal-access-tokens",
    operation_id="listUserPersonalAccessTokens",
    response_model=list[schemas.PersonalAccessTokenRelation],
    tags=[PAT_TAG],
)
async def list_personal_access_tokens(
    service: Service, principal: CurrentUserPrincipal, page: PageDep
) -> Sequence[ApiToken]:
    return await service.list_personal(principal, page)


@router.post(
    "/users/personal-access-tokens",
    operation_id="addUserPersonalAccessToken",
    status_code=201,
    response_model=schemas.PersonalAccessToken,
    tags=[PAT_TAG],
)
async def add_personal_access_token(
    service: Service, principal: CurrentUserPrincipal, data: schemas.PersonalAccessTokenUserCreate
) -> ApiToken:
    return await service.create_personal(principal, data)


@router.get(
    "/users/personal-access-tokens/{personal_access_token_id}",
    operation_id="getUserPersonalAccessToken",
    response_model=schemas.PersonalAccessToken,
    tags=[PAT_TAG],
)
async def get_personal_access_token(
    personal_access_token_id: str, service: Service, principal: CurrentUserPrincipal
) -> ApiToken:
    return await service.get_personal(principal, personal_access_token_id)


@router.delete(
    "/users/personal-access-tokens/{personal_access_token_id}/revoke",
    operation_id="revokeUserPersonalAccessToken",
    status_code=204,
    response_class=Response,
    tags=[PAT_TAG],
)
async def revoke_personal_access_token(
    personal_access_token_id: str,
    service: Service,
    principal: CurrentUserPrincipal,
    cache: PrincipalCacheDep,
) -> Response:
    await service.revoke_personal(principal, personal_access_token_id)
    cache.forget_token(personal_access_token_id)
    return Response(status_code=204)


@router.post(
    "/users/personal-access-tokens/{personal_access_token_id}/rotate",
    operation_id="rotateUserPersonalAccessToken",
    response_model=schemas.PersonalAccessToken,
    tags=[PAT_TAG],
)
async def rotate_personal_access_token(
    personal_access_token_id: str,
    data: schemas.TokenRotate,
    service: Service,
    principal: CurrentUserPrincipal,
    cache: PrincipalCacheDep,
) -> ApiToken:
    token = await service.rotate_personal(principal, personal_access_token_id, data)
    cache.forget_token(personal_access_token_id)
    return token


@router.get(
    "/projects/{project_id:int}/tokens",
    operation_id="listProjectApiTokens",
    response_model=list[schemas.ApiTokenRelation],
    tags=[PROJECT_TAG],
)
async def list_project_api_tokens(
    project_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> Sequence[ApiToken]:
    return await service.list_project(principal, project_id, page)


@router.post(
    "/projects/{project_id:int}/tokens",
    operation_id="addProjectApiToken",
    status_code=201,
    response_model=schemas.ApiToken,
    tags=[PROJECT_TAG],
)
async def add_project_api_token(
    project_id: int,
    data: schemas.ApiTokenProjectCreate,
    service: Service,
    principal: CurrentPrincipal,
) -> ApiToken:
    return await service.create_project(principal, project_id, data)


@router.get(
    "/projects/{project_id:int}/tokens/{token_id}",
    operation_id="getProjectApiToken",
    response_model=schemas.ApiToken,
    tags=[PROJECT_TAG],
)
async def get_project_api_token(
    project_id: int, token_id: str, service: Service, principal: CurrentPrincipal
) -> ApiToken:
    return await service.get_project(principal, project_id, token_id)


@router.delete(
    "/projects/{project_id:int}/tokens/{token_id}/revoke",
    operation_id="revokeProjectApiToken",
    status_code=204,
    response_class=Response,
    tags=[PROJECT_TAG],
)
async def revoke_project_api_token(
    project_id: int,
    token_id: str,
    service: Service,
    principal: CurrentPrincipal,
    cache: PrincipalCacheDep,
) -> Response:
    await service.revoke_project(principal, project_id, token_id)
    cache.forget_token(token_id)
    return Response(status_code=204)


@router.post(
    "/projects/{project_id:int}/tokens/{token_id}/rotate",
    operation_id="rotateProjectApiToken",
    response_model=schemas.ApiToken,
    tags=[PROJECT_TAG],
)
async def rotate_project_api_token(
    project_id: int,
    token_id: str,
    data: schemas.TokenRotate,
    service: Service,
    principal: CurrentPrincipal,
    cache: PrincipalCacheDep,
) -> ApiToken:
    token = await service.rotate_project(principal, project_id, token_id, data)
    cache.forget_token(token_id)
    return token

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access.auth import CurrentPrincipal, CurrentUserPrincipal
from app.access.routes import Route, add_routes, param
from app.core.deps import SessionDep, SettingsDep
from app.tokens import schemas
from app.tokens.models import ApiToken
from app.tokens.service import TokenService

router = APIRouter()


async def get_service(session: SessionDep, settings: SettingsDep) -> TokenService:
    return TokenService(session, settings)


Service = Annotated[TokenService, Depends(get_service)]

PAT_TAG = "Users - Personal Access Tokens"
PROJECT_TAG = "Projects - API Tokens"


async def revoke_personal_access_token(
    personal_access_token_id: str,
    service: Service,
    principal: CurrentUserPrincipal,
) -> Response:
    await service.revoke_personal(principal, personal_access_token_id)
    return Response(status_code=204)


async def rotate_personal_access_token(
    personal_access_token_id: str,
    data: schemas.TokenRotate,
    service: Service,
    principal: CurrentUserPrincipal,
) -> ApiToken:
    token = await service.rotate_personal(principal, personal_access_token_id, data)
    return token


async def revoke_project_api_token(
    project_id: int,
    token_id: str,
    service: Service,
    principal: CurrentPrincipal,
) -> Response:
    await service.revoke_project(principal, project_id, token_id)
    return Response(status_code=204)


async def rotate_project_api_token(
    project_id: int,
    token_id: str,
    data: schemas.TokenRotate,
    service: Service,
    principal: CurrentPrincipal,
) -> ApiToken:
    token = await service.rotate_project(principal, project_id, token_id, data)
    return token


add_routes(router, Service, [
    Route("GET", "/users/personal-access-tokens", "listUserPersonalAccessTokens", "list_personal",
          list[schemas.PersonalAccessTokenRelation], paged=True, principal=CurrentUserPrincipal,
          tags=(PAT_TAG,), name="list_personal_access_tokens"),
    Route("POST", "/users/personal-access-tokens", "addUserPersonalAccessToken", "create_personal",
          schemas.PersonalAccessToken, 201,
          extra=(param("data", schemas.PersonalAccessTokenUserCreate),),
          principal=CurrentUserPrincipal, tags=(PAT_TAG,), name="add_personal_access_token"),
    Route("GET", "/users/personal-access-tokens/{personal_access_token_id}",
          "getUserPersonalAccessToken", "get_personal", schemas.PersonalAccessToken,
          principal=CurrentUserPrincipal, tags=(PAT_TAG,), name="get_personal_access_token"),
    Route("DELETE", "/users/personal-access-tokens/{personal_access_token_id}/revoke",
          "revokeUserPersonalAccessToken", revoke_personal_access_token, None, 204,
          principal=CurrentUserPrincipal,
          tags=(PAT_TAG,), name="revoke_personal_access_token"),
    Route("POST", "/users/personal-access-tokens/{personal_access_token_id}/rotate",
          "rotateUserPersonalAccessToken", rotate_personal_access_token,
          schemas.PersonalAccessToken, None, schemas.TokenRotate,
          principal=CurrentUserPrincipal,
          tags=(PAT_TAG,), name="rotate_personal_access_token"),
    Route("GET", "/projects/{project_id:int}/tokens", "listProjectApiTokens", "list_project",
          list[schemas.ApiTokenRelation], paged=True, tags=(PROJECT_TAG,)),
    Route("POST", "/projects/{project_id:int}/tokens", "addProjectApiToken", "create_project",
          schemas.ApiToken, 201, schemas.ApiTokenProjectCreate, tags=(PROJECT_TAG,)),
    Route("GET", "/projects/{project_id:int}/tokens/{token_id}", "getProjectApiToken",
          "get_project", schemas.ApiToken, tags=(PROJECT_TAG,)),
    Route("DELETE", "/projects/{project_id:int}/tokens/{token_id}/revoke", "revokeProjectApiToken",
          revoke_project_api_token, None, 204, tags=(PROJECT_TAG,)),
    Route("POST", "/projects/{project_id:int}/tokens/{token_id}/rotate", "rotateProjectApiToken",
          rotate_project_api_token, schemas.ApiToken, None, schemas.TokenRotate,
          tags=(PROJECT_TAG,)),
])

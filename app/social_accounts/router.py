from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.access.auth import CurrentUserPrincipal
from app.access.routes import Route, add_routes
from app.core.deps import SessionDep, SettingsDep
from app.social_accounts import schemas
from app.social_accounts.service import SocialAccountService

router = APIRouter(tags=["Social Accounts"])

Provider = Annotated[str, Path(max_length=32)]


async def get_service(session: SessionDep, settings: SettingsDep) -> SocialAccountService:
    return SocialAccountService(session, settings)


Service = Annotated[SocialAccountService, Depends(get_service)]


add_routes(router, Service, [
    Route("GET", "/social-accounts", "listSocialAccounts", "list",
          list[schemas.SocialAccountRelation], paged=True, principal=CurrentUserPrincipal),
    Route("POST", "/social-accounts", "addSocialAccount", "create", schemas.SocialAccount, 201,
          schemas.SocialAccountCreate, principal=CurrentUserPrincipal),
    Route("DELETE", "/social-accounts/{social_account_id:int}", "deleteSocialAccount", "delete",
          None, 204, principal=CurrentUserPrincipal),
    Route("GET", "/social-accounts/{social_account_provider}", "getSocialAccount", "get",
          schemas.SocialAccount, principal=CurrentUserPrincipal),
    Route("GET", "/social-accounts/{social_account_provider}/status", "getSocialAccountStatus",
          "status", schemas.SocialAccountStatus, principal=CurrentUserPrincipal),
], {
    "social_account_id": Annotated[int, Path(ge=1, le=2**31 - 1)],
    "social_account_provider": Provider,
})

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from app.access.auth import CurrentUserPrincipal
from app.core.deps import SessionDep, SettingsDep
from app.core.pagination import PageDep
from app.social_accounts import schemas
from app.social_accounts.models import SocialAccount
from app.social_accounts.service import SocialAccountService

router = APIRouter(tags=["Social Accounts"])

Provider = Annotated[str, Path(max_length=32)]


def get_service(session: SessionDep, settings: SettingsDep) -> SocialAccountService:
    return SocialAccountService(session, settings)


Service = Annotated[SocialAccountService, Depends(get_service)]


@router.get(
    "/social-accounts",
    operation_id="listSocialAccounts",
    response_model=list[schemas.SocialAccountRelation],
)
async def list_social_accounts(
    service: Service, principal: CurrentUserPrincipal, page: PageDep
) -> Sequence[SocialAccount]:
    return await service.list(principal, page)


@router.post(
    "/social-accounts",
    operation_id="addSocialAccount",
    status_code=201,
    response_model=schemas.SocialAccount,
)
async def add_social_account(
    data: schemas.SocialAccountCreate, service: Service, principal: CurrentUserPrincipal
) -> SocialAccount:
    return await service.create(principal, data)


@router.delete(
    "/social-accounts/{social_account_id:int}",
    operation_id="deleteSocialAccount",
    status_code=204,
    response_class=Response,
)
async def delete_social_account(
    social_account_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    service: Service,
    principal: CurrentUserPrincipal,
) -> Response:
    await service.delete(principal, social_account_id)
    return Response(status_code=204)


@router.get(
    "/social-accounts/{social_account_provider}",
    operation_id="getSocialAccount",
    response_model=schemas.SocialAccount,
)
async def get_social_account(
    social_account_provider: Provider, service: Service, principal: CurrentUserPrincipal
) -> SocialAccount:
    return await service.get(principal, social_account_provider)


@router.get(
    "/social-accounts/{social_account_provider}/status",
    operation_id="getSocialAccountStatus",
    response_model=schemas.SocialAccountStatus,
)
async def get_social_account_status(
    social_account_provider: Provider, service: Service, principal: CurrentUserPrincipal
) -> schemas.SocialAccountStatus:
    return await service.status(principal, social_account_provider)

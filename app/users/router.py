from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response

from app.core.auth import CurrentPrincipal, CurrentUserPrincipal, PrincipalCacheDep
from app.core.deps import ClientIP, CounterDep, MailerDep, SessionDep, SettingsDep
from app.social_accounts.service import social_accounts_of
from app.users import schemas
from app.users.billing import unlimited_subscription
from app.users.service import ClientInfo, UserService

router = APIRouter()
# Per route, not on the router: the password operations carry only their own tag.
USERS: list[str | Enum] = ["Users"]


async def get_service(
    session: SessionDep, settings: SettingsDep, mailer: MailerDep, counter: CounterDep
) -> UserService:
    return UserService(session, settings, mailer, counter)


Service = Annotated[UserService, Depends(get_service)]


def _login_response(tokens: object) -> schemas.UserLoginResponse:
    return schemas.UserLoginResponse.model_validate(tokens)


@router.post(
    "/users",
    tags=USERS,
    operation_id="addUser",
    status_code=202,
    response_class=Response,
    summary="Sign up/register a new user",
    deprecated=True,
)
async def add_user(service: Service, data: Annotated[schemas.UserSignUp, Body()]) -> Response:
    await service.sign_up(data)
    return Response(status_code=202)


@router.post(
    "/users/account/resend-verification",
    tags=USERS,
    operation_id="resendVerificationUser",
    status_code=202,
    response_class=Response,
)
async def resend_verification(service: Service, data: schemas.UserResendVerification) -> Response:
    await service.resend_verification(str(data.email))
    return Response(status_code=202)


@router.post(
    "/users/account/verify",
    tags=USERS,
    operation_id="verifyUser",
    status_code=204,
    response_class=Response,
    summary="Activate the user account",
    deprecated=True,
)
async def verify_user(service: Service, data: schemas.UserVerify) -> Response:
    await service.verify(data)
    return Response(status_code=204)


@router.post(
    "/users/login",
    tags=USERS,
    operation_id="loginUser",
    response_model=schemas.UserLoginResponse,
    deprecated=True,
)
async def login_user(
    request: Request, service: Service, ip: ClientIP, data: schemas.UserLogin
) -> schemas.UserLoginResponse:
    tokens = await service.login(data, ClientInfo(ip, request.headers.get("User-Agent")))
    return _login_response(tokens)


@router.post(
    "/users/refresh-token",
    tags=USERS,
    operation_id="refreshTokenUser",
    response_model=schemas.UserLoginResponse,
    deprecated=True,
)
async def refresh_token_user(
    service: Service, data: schemas.UserRefreshToken
) -> schemas.UserLoginResponse:
    return _login_response(await service.refresh(data.refresh_token))


@router.get(
    "/users/logout",
    tags=USERS,
    operation_id="getUserLogout",
    status_code=204,
    response_class=Response,
    deprecated=True,
)
async def logout_user(
    service: Service, principal: CurrentPrincipal, cache: PrincipalCacheDep
) -> Response:
    await service.logout(principal.session_id)
    if principal.session_id is not None:
        cache.forget_session(principal.session_id)
    return Response(status_code=204)


@router.post(
    "/users/password/send-reset-link",
    operation_id="sendResetLinkUserPassword",
    status_code=202,
    response_class=Response,
    tags=["Users - Passwords"],
    deprecated=True,
)
async def send_reset_link(service: Service, data: schemas.PasswordSendResetLink) -> Response:
    await service.send_reset_link(str(data.email))
    return Response(status_code=202)


@router.post(
    "/users/password/reset",
    operation_id="resetUserPassword",
    response_model=schemas.PasswordResetResponse,
    tags=["Users - Passwords"],
    deprecated=True,
)
async def reset_password(
    service: Service, data: schemas.PasswordUserReset, cache: PrincipalCacheDep
) -> schemas.PasswordResetResponse:
    for session_id in await service.reset_password(data):
        cache.forget_session(session_id)
    return schemas.PasswordResetResponse(message="Your password has been reset.")


@router.get("/users/me", tags=USERS, operation_id="getUserMe", response_model=schemas.UserMe)
async def get_user_me(
    service: Service, principal: CurrentUserPrincipal, session: SessionDep
) -> schemas.UserMe:
    user = await service.me(principal.user_id)
    body = schemas.UserMe.model_validate(user)
    body.social_accounts = [
        schemas.SocialAccountRelation.model_validate(account)
        for account in await social_accounts_of(session, user.id)
    ]
    return body


@router.get(
    "/users/billing", tags=USERS, operation_id="getUserBilling", response_model=schemas.UserBilling
)
async def get_user_billing(
    service: Service, principal: CurrentUserPrincipal
) -> schemas.UserBilling:
    user = await service.me(principal.user_id)
    return schemas.UserBilling(active_subscription=unlimited_subscription(user))


@router.get("/users/urls", tags=USERS, operation_id="getUserUrls", response_model=schemas.UserUrl)
async def get_user_urls(settings: SettingsDep, principal: CurrentUserPrincipal) -> schemas.UserUrl:
    return schemas.UserUrl(
        billing_management_url=f"{settings.public_url.rstrip('/')}/users/billing"
    )


@router.get(
    "/users/{user_id}", tags=USERS, operation_id="getUser", response_model=schemas.UserPublic
)
async def get_user(
    user_id: str, service: Service, principal: CurrentUserPrincipal
) -> schemas.UserPublic:
    user = await service.get_visible(user_id, principal.user_id)
    return schemas.UserPublic(id=user.id, url_slug=user.url_slug, type="user")


@router.put(
    "/users/{user_id}",
    tags=USERS,
    operation_id="updateUser",
    status_code=204,
    response_class=Response,
    deprecated=True,
)
async def update_user(
    user_id: str, data: schemas.UserUpdate, service: Service, principal: CurrentUserPrincipal
) -> Response:
    await service.update(user_id, principal.user_id, data)
    return Response(status_code=204)


@router.get(
    "/users/{user_id}/activity",
    tags=USERS,
    operation_id="getUserActivity",
    response_model=schemas.UserActivity,
)
async def get_user_activity(
    user_id: str, service: Service, principal: CurrentUserPrincipal
) -> schemas.UserActivity:
    return await service.activity(user_id, principal.user_id)

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response

from app.access.auth import CurrentUserPrincipal
from app.access.routes import Route, add_routes, param
from app.core.deps import ClientIP, CounterDep, MailerDep, SessionDep, SettingsDep
from app.core.errors import Unauthenticated
from app.social_accounts.service import user_and_social_accounts
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


async def login_user(
    request: Request, service: UserService, ip: str, data: schemas.UserLogin
) -> schemas.UserLoginResponse:
    tokens = await service.login(data, ClientInfo(ip, request.headers.get("User-Agent")))
    return _login_response(tokens)


async def refresh_token_user(
    service: UserService, data: schemas.UserRefreshToken
) -> schemas.UserLoginResponse:
    return _login_response(await service.refresh(data.refresh_token))


async def logout_user(service: UserService, principal: Any) -> None:
    await service.logout(principal.session_id)


# Sign-up, verification, login and password reset need no principal; logout does.
add_routes(router, Service, [
    Route("POST", "/users", "addUser", "sign_up", None, 202,
          Annotated[schemas.UserSignUp, Body()], principal=None, tags=("Users",),
          name="add_user",
          options={"summary": "Sign up/register a new user", "deprecated": True}),
    Route("POST", "/users/account/resend-verification", "resendVerificationUser",
          lambda service, data: service.resend_verification(str(data.email)), None, 202,
          schemas.UserResendVerification, principal=None, tags=("Users",),
          name="resend_verification"),
    Route("POST", "/users/account/verify", "verifyUser", "verify", None, 204,
          schemas.UserVerify, principal=None, tags=("Users",), name="verify_user",
          options={"summary": "Activate the user account", "deprecated": True}),
    Route("POST", "/users/login", "loginUser", login_user, schemas.UserLoginResponse,
          body=schemas.UserLogin, principal=None,
          extra=(param("request", Request), param("ip", ClientIP)), tags=("Users",),
          options={"deprecated": True}),
    Route("POST", "/users/refresh-token", "refreshTokenUser", refresh_token_user,
          schemas.UserLoginResponse, body=schemas.UserRefreshToken, principal=None,
          tags=("Users",), options={"deprecated": True}),
    Route("GET", "/users/logout", "getUserLogout", logout_user, None, 204,
          tags=("Users",), name="logout_user",
          options={"deprecated": True}),
    Route("POST", "/users/password/send-reset-link", "sendResetLinkUserPassword",
          lambda service, data: service.send_reset_link(str(data.email)), None, 202,
          schemas.PasswordSendResetLink, principal=None, tags=("Users - Passwords",),
          name="send_reset_link", options={"deprecated": True}),
])


@router.post(
    "/users/password/reset",
    operation_id="resetUserPassword",
    response_model=schemas.PasswordResetResponse,
    tags=["Users - Passwords"],
    deprecated=True,
)
async def reset_password(
    service: Service, data: schemas.PasswordUserReset
) -> schemas.PasswordResetResponse:
    await service.reset_password(data)
    return schemas.PasswordResetResponse(message="Your password has been reset.")


@router.get("/users/me", tags=USERS, operation_id="getUserMe", response_model=schemas.UserMe)
async def get_user_me(principal: CurrentUserPrincipal, session: SessionDep) -> schemas.UserMe:
    user, accounts = await user_and_social_accounts(session, principal.user_id)
    if user is None:
        raise Unauthenticated()
    body = schemas.UserMe.model_validate(user)
    body.social_accounts = [
        schemas.SocialAccountRelation.model_validate(account) for account in accounts
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

from __future__ import annotations

import re
from typing import Annotated, Literal

import idna
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

from app.core.schemas import Name, RequestModel, ResponseModel, Timestamp

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _email_address(value: str) -> str:
    """`local@domain` with a valid local part and any DNS name as the domain, internal
    ones included (`.local`, `.internal`, `.lan`, a bare host name): on-prem installs
    use them, and whether mail arrives is the operator's SMTP server's business."""
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("value is not a valid email address: it must have exactly one @")
    if len(local.encode()) > 64:
        raise ValueError("value is not a valid email address: the part before the @-sign "
                         "is longer than 64 characters")
    try:
        # The local part by email-validator's rules; the stand-in domain only keeps its
        # refusal of special-use names (".local", ...) out of the way.
        checked = validate_email(f"{local}@example.com", check_deliverability=False)
        ascii_domain = idna.encode(domain, uts46=True).decode().lower()
    except (EmailNotValidError, idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None
    if len(ascii_domain) > 253 or not all(_LABEL.match(p) for p in ascii_domain.split(".")):
        raise ValueError("value is not a valid email address: the domain is not a valid "
                         "host name")
    return f"{checked.local_part}@{domain.lower()}"


EmailAddress = Annotated[
    str,
    StringConstraints(max_length=255),
    AfterValidator(_email_address),
    WithJsonSchema({"type": "string", "format": "email"}),
]

Password = Annotated[str, StringConstraints(min_length=8, max_length=255)]
Language = Literal["en", "pt"]


class UserSignUp(RequestModel):
    email: EmailAddress
    name: Name | None = None
    password: Password | None = None


class UserVerify(RequestModel):
    email: EmailAddress
    token: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    name: Name
    password: Password


class UserResendVerification(RequestModel):
    email: EmailAddress


class UserLogin(RequestModel):
    email: EmailAddress
    password: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class UserRefreshToken(RequestModel):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class PasswordSendResetLink(RequestModel):
    email: EmailAddress


class PasswordUserReset(RequestModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    email: EmailAddress
    password: Password
    password_confirmation: Annotated[str, StringConstraints(max_length=255)]


class UserUpdate(RequestModel):
    name: Name | None = None
    language: Language | None = None


class UserLoginResponse(ResponseModel):
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    access_token: str
    refresh_token: str


class UserRelation(ResponseModel):
    id: int
    name: str
    email: str
    url_slug: str
    language: Language | None
    active: bool
    created_at: Timestamp
    updated_at: Timestamp


class SocialAccountRelation(ResponseModel):
    id: int
    user_id: int
    provider: str
    provider_human_readable: str
    provider_user_nickname: str
    is_vcs: bool
    token_expires_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class UserMe(UserRelation):
    social_accounts: list[SocialAccountRelation] = Field(default_factory=list)


class UserPublic(ResponseModel):
    """The reference's `User`: what one account may learn about another id or slug."""

    id: int
    url_slug: str
    type: Literal["user", "org"]


class PasswordResetResponse(ResponseModel):
    message: str


class Credits(ResponseModel):
    limit: int
    used: int
    remaining: int


class SubscriptionBalance(ResponseModel):
    credits: Credits
    unit: str
    billing_period_started_at: Timestamp
    billing_period_ends_at: Timestamp
    created_at: Timestamp
    updated_at: Timestamp


class Subscription(ResponseModel):
    id: int
    user_id: int
    plan_name: str
    status: str
    quantity: int
    price_unit: float
    price_total: float
    price_currency: str
    cancelled_at: Timestamp | None
    ends_at: Timestamp
    created_at: Timestamp
    updated_at: Timestamp
    current_balance: SubscriptionBalance | None
    balances: list[SubscriptionBalance]


class UserBilling(ResponseModel):
    active_subscription: Subscription | None


class UserUrl(ResponseModel):
    billing_management_url: str


class OwnedMemberStats(ResponseModel):
    owner_of: int
    member_of: int


class TriggeredActionSummary(ResponseModel):
    count: int = 0
    queued: int = 0
    pending: int = 0
    in_progress: int = 0
    completed: int = 0
    failed: int = 0


class TriggeredActionStats(ResponseModel):
    resource_type: str
    action_type: str
    resource_type_human_readable: str
    action_type_human_readable: str
    summary: TriggeredActionSummary


class TriggeredActions(ResponseModel):
    summary: TriggeredActionSummary
    operations: list[TriggeredActionStats]


class UserActivity(ResponseModel):
    projects: OwnedMemberStats
    environments: OwnedMemberStats
    teams: OwnedMemberStats
    triggered_actions: TriggeredActions

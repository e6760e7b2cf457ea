from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from app.core.schemas import RequestModel, ResponseModel
from app.users.schemas import SocialAccountRelation

SourceProviderName = Literal["github", "gitlab", "bitbucket"]


class SocialAccountCreate(RequestModel):
    provider: SourceProviderName
    callback_code: Annotated[str, StringConstraints(min_length=1, max_length=512)]


__all__ = ["SocialAccount", "SocialAccountCreate", "SocialAccountRelation", "SocialAccountStatus"]


class SocialAccount(SocialAccountRelation):
    pass


class SocialAccountStatus(ResponseModel):
    provider: str
    connected: bool
    connect_url: str

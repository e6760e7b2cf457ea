from __future__ import annotations

from datetime import datetime

from pydantic import Field

from app.core.schemas import Id, Name, RequestModel, ResponseModel, Timestamp
from app.projects.schemas import ProjectRelation
from app.roles.schemas import RoleRelation
from app.tokens.models import ApiTokenStatus, ApiTokenType
from app.users.schemas import UserRelation


class PersonalAccessTokenUserCreate(RequestModel):
    name: Name
    expires_at: datetime


class ApiTokenProjectCreate(RequestModel):
    name: Name
    role_id: Id
    expires_at: datetime


class TokenRotate(RequestModel):
    id: str = Field(min_length=1, max_length=64)
    expires_at: datetime


class _TokenBase(ResponseModel):
    id: str
    name: str
    type: ApiTokenType
    status: ApiTokenStatus
    last_used_at: Timestamp | None
    expires_at: Timestamp
    revoked_at: Timestamp | None
    updated_at: Timestamp
    created_at: Timestamp


class PersonalAccessTokenRelation(_TokenBase):
    user: UserRelation


class PersonalAccessToken(PersonalAccessTokenRelation):
    token: str | None


class ApiTokenRelation(_TokenBase):
    role: RoleRelation | None


class ApiToken(ApiTokenRelation):
    token: str | None
    project: ProjectRelation

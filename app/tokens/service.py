"""Personal access tokens and project API tokens: only hashes are stored, secrets shown once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.catalogue import USER_ONLY_PERMISSIONS
from app.access.permissions import Authorizer
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import PageParams
from app.core.security import (
    PERSONAL_ACCESS_TOKEN_PREFIX,
    PROJECT_API_TOKEN_PREFIX,
    hash_token,
    new_token,
)
from app.core.settings import Settings
from app.tokens.models import ApiToken, ApiTokenType
from app.tokens.repository import TokenRepository
from app.tokens.schemas import (
    ApiTokenProjectCreate,
    PersonalAccessTokenUserCreate,
    TokenRotate,
)

PREFIXES = {
    ApiTokenType.PERSONAL_ACCESS_TOKEN: PERSONAL_ACCESS_TOKEN_PREFIX,
    ApiTokenType.PROJECT_API_TOKEN: PROJECT_API_TOKEN_PREFIX,
}


class TokenService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.tokens = TokenRepository(session)
        self.authorizer = Authorizer(session)

    def _expiry(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        now = datetime.now(UTC)
        if value <= now:
            raise ValidationFailed.field("expires_at", "The expires at must be a date after now.")
        if value > now + timedelta(days=self.settings.token_max_lifetime_days):
            raise ValidationFailed.field(
                "expires_at", "The expires at must be a date before now +1 year."
            )
        return value

    def _issue(self, token: ApiToken) -> str:
        secret = new_token(PREFIXES[ApiTokenType(token.type)])
        token.token_hash = hash_token(secret)
        return secret

    # personal access tokens

    async def list_personal(self, principal: Principal, page: PageParams) -> Sequence[ApiToken]:
        return await self.tokens.list_personal(principal.user_id, page)

    async def get_personal(self, principal: Principal, token_id: str) -> ApiToken:
        token = await self.tokens.get_personal(principal.user_id, token_id)
        if token is None:
            raise NotFound("Personal access token not found.")
        return token

    async def create_personal(
        self, principal: Principal, data: PersonalAccessTokenUserCreate
    ) -> ApiToken:
        token = ApiToken(
            type=ApiTokenType.PERSONAL_ACCESS_TOKEN,
            name=data.name,
            user_id=principal.user_id,
            expires_at=self._expiry(data.expires_at),
        )
        secret = self._issue(token)
        await self.tokens.add(token)
        token = await self.get_personal(principal, token.id)
        token.reveal(secret)
        return token

    async def revoke_personal(self, principal: Principal, token_id: str) -> ApiToken:
        token = await self.get_personal(principal, token_id)
        self._revoke(token)
        await self.session.flush()
        return token

    async def rotate_personal(
        self, principal: Principal, token_id: str, data: TokenRotate
    ) -> ApiToken:
        token = await self.get_personal(principal, token_id)
        return await self._rotate(token, token_id, data)

    # project API tokens

    async def list_project(
        self, principal: Principal, project_id: int, page: PageParams
    ) -> Sequence[ApiToken]:
        await self.authorizer.project(principal, project_id, "api_token:read")
        return await self.tokens.list_project(project_id, page)

    async def get_project(self, principal: Principal, project_id: int, token_id: str) -> ApiToken:
        await self.authorizer.project(principal, project_id, "api_token:read")
        return await self._project_token(project_id, token_id)

    async def _project_token(self, project_id: int, token_id: str) -> ApiToken:
        token = await self.tokens.get_project(project_id, token_id)
        if token is None:
            raise NotFound("API token not found.")
        return token

    async def create_project(
        self, principal: Principal, project_id: int, data: ApiTokenProjectCreate
    ) -> ApiToken:
        project = await self.authorizer.project(principal, project_id, "api_token:create")
        role = await self.tokens.role_usable_in(data.role_id, project)
        if role is None:
            raise ValidationFailed.field("role_id", "The selected role id is invalid.")
        # A token never gets the user-only rights, so only the rest is handed out; its use
        # is bounded by its creator's rights as well (Authorizer), this refuses it early.
        self.authorizer.ensure_grantable(
            set(role.permissions) - USER_ONLY_PERMISSIONS, project.current_user_permissions
        )
        token = ApiToken(
            type=ApiTokenType.PROJECT_API_TOKEN,
            name=data.name,
            user_id=principal.user_id,
            project_id=project.id,
            role_id=role.id,
            expires_at=self._expiry(data.expires_at),
        )
        secret = self._issue(token)
        await self.tokens.add(token)
        token = await self._project_token(project_id, token.id)
        token.reveal(secret)
        return token

    async def revoke_project(
        self, principal: Principal, project_id: int, token_id: str
    ) -> ApiToken:
        await self.authorizer.project(principal, project_id, "api_token:delete")
        token = await self._project_token(project_id, token_id)
        self._revoke(token)
        await self.session.flush()
        return token

    async def rotate_project(
        self, principal: Principal, project_id: int, token_id: str, data: TokenRotate
    ) -> ApiToken:
        project = await self.authorizer.project(principal, project_id, "api_token:update")
        token = await self._project_token(project_id, token_id)
        # Whoever rotates receives the secret, and with it what the token may do (its role,
        # bounded by its creator): no more than the rotator holds.
        creator = await self.authorizer.creator_permissions(token.user_id, project)
        role = set(token.role.permissions) if token.role is not None else set()
        self.authorizer.ensure_grantable(
            (role & creator) - USER_ONLY_PERMISSIONS, project.current_user_permissions
        )
        return await self._rotate(token, token_id, data)

    # shared

    def _revoke(self, token: ApiToken) -> None:
        if token.revoked_at is None:
            token.revoked_at = datetime.now(UTC)

    async def _rotate(self, token: ApiToken, token_id: str, data: TokenRotate) -> ApiToken:
        if data.id != token_id:
            raise ValidationFailed.field("id", "The id must match the token in the URL.")
        if token.revoked_at is not None:
            raise Conflict("A revoked token cannot be rotated; create a new one.")
        # Same token record, new secret: the old secret stops working at once.
        token.expires_at = self._expiry(data.expires_at)
        secret = self._issue(token)
        await self.session.flush()
        token.reveal(secret)
        return token

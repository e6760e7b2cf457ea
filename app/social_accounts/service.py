"""A user's own links to source provider accounts, made through the providers' OAuth."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.core.errors import BadGateway, NotFound, ValidationFailed
from app.core.pagination import PageParams
from app.core.security import SecretBox
from app.core.settings import Settings
from app.credentials.catalogue import SOURCE_PROVIDER_NAMES
from app.credentials.providers import oauth_redirect_uri, source_adapter
from app.credentials.providers.base import CredentialRejected, ProviderError, SourceAdapter
from app.social_accounts.models import SocialAccount
from app.social_accounts.repository import SocialAccountRepository
from app.social_accounts.schemas import SocialAccountCreate, SocialAccountStatus
from app.users.models import User


class SocialAccountService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.accounts = SocialAccountRepository(session)

    def _adapter(self, provider: str) -> SourceAdapter:
        adapter = source_adapter(provider, self.settings) if provider in SOURCE_PROVIDER_NAMES \
            else None
        if adapter is None:
            raise NotFound("Social account provider not found.")
        return adapter

    def _redirect(self, provider: str) -> str:
        return oauth_redirect_uri(self.settings, provider)

    async def list(self, principal: Principal, page: PageParams) -> Sequence[SocialAccount]:
        return await self.accounts.page(principal.user_id, page)

    async def get(self, principal: Principal, provider: str) -> SocialAccount:
        account = await self.accounts.by_provider(principal.user_id, provider)
        if account is None:
            raise NotFound("Social account not found.")
        return account

    async def create(self, principal: Principal, data: SocialAccountCreate) -> SocialAccount:
        adapter = self._adapter(data.provider)
        name = SOURCE_PROVIDER_NAMES[data.provider]
        if adapter.connect_url(self._redirect(data.provider), None) is None:
            raise ValidationFailed.field(
                "provider",
                f"OAuth for {name} is not configured on this server (set "
                f"{data.provider.upper()}_CLIENT_ID and {data.provider.upper()}_CLIENT_SECRET).",
            )
        try:
            token = await adapter.exchange_code(data.callback_code, self._redirect(data.provider))
            user = await adapter.current_user({"access_token": token.access_token})
        except CredentialRejected as exc:
            raise ValidationFailed.field("callback_code", str(exc)) from exc
        except ProviderError as exc:
            raise BadGateway(f"{name} could not be reached: {exc}") from exc
        box = SecretBox(self.settings)
        account = await self.accounts.by_provider(principal.user_id, data.provider)
        if account is None:
            account = SocialAccount(user_id=principal.user_id, provider=data.provider)
        account.provider_user_id = user.id[:128]
        account.provider_user_nickname = user.nickname[:255]
        account.token_encrypted = box.encrypt(token.access_token)
        account.refresh_token_encrypted = (
            box.encrypt(token.refresh_token) if token.refresh_token else None
        )
        account.token_expires_at = token.expires_at
        await self.accounts.add(account)
        return account

    async def status(self, principal: Principal, provider: str) -> SocialAccountStatus:
        adapter = self._adapter(provider)
        account = await self.accounts.by_provider(principal.user_id, provider)
        connected = False
        if account is not None:
            token = SecretBox(self.settings).decrypt(account.token_encrypted)
            try:
                await adapter.current_user({"access_token": token})
                connected = True
            except (CredentialRejected, ProviderError):
                connected = False
        return SocialAccountStatus(
            provider=provider,
            connected=connected,
            connect_url=adapter.connect_url(self._redirect(provider), None) or "",
        )

    async def delete(self, principal: Principal, account_id: int) -> None:
        account = await self.accounts.by_id(principal.user_id, account_id)
        if account is None:
            raise NotFound("Social account not found.")
        await self.accounts.delete(account)


async def user_and_social_accounts(
    session: AsyncSession, user_id: int
) -> tuple[User | None, list[SocialAccount]]:
    """For `GET /users/me`: the user and their accounts, read in one statement."""
    return await SocialAccountRepository(session).user_and_accounts(user_id)

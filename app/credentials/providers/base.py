"""One interface per provider kind; each provider's adapter speaks its real HTTP API."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from app.core.settings import Settings
from app.credentials.schemas import Repository, RepositoryRelation


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


class ProviderError(Exception):
    """The provider could not be asked (network, timeout) or answered something unexpected."""


class CredentialRejected(Exception):
    """The provider refused the credential (401/403, unknown key, revoked token)."""


@dataclass(frozen=True)
class OAuthToken:
    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ProviderUser:
    id: str
    nickname: str


class HttpAdapter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.settings.provider_timeout_seconds,
            headers={"User-Agent": "devopness-server", **kwargs.pop("headers", {})},
            **kwargs,
        )

    @staticmethod
    def raise_for(response: httpx.Response, what: str) -> None:
        if response.status_code in (401, 403):
            raise CredentialRejected(f"{what} rejected the credential ({response.status_code}).")
        if response.status_code >= 400:
            raise ProviderError(f"{what} answered {response.status_code}.")

    @staticmethod
    def json(response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(f"{what} did not answer JSON.") from exc


class CloudAdapter(ABC):
    @abstractmethod
    async def check(self, credential: Mapping[str, str]) -> CheckResult:
        """Ask the provider whether the credential works; never raises for a bad one."""


class SourceAdapter(ABC):
    @abstractmethod
    async def check(self, credential: Mapping[str, str]) -> CheckResult: ...

    @abstractmethod
    async def current_user(self, credential: Mapping[str, str]) -> ProviderUser: ...

    @abstractmethod
    async def repositories(
        self, credential: Mapping[str, str], page: int, per_page: int
    ) -> tuple[list[RepositoryRelation], int]:
        """One page of the repositories the credential reaches, and the total count."""

    @abstractmethod
    async def repository(
        self, credential: Mapping[str, str], owner: str, name: str
    ) -> Repository | None: ...

    @abstractmethod
    def connect_url(self, redirect_uri: str, state: str | None) -> str | None:
        """Where to send a user to authorize OAuth; None when OAuth is not configured."""

    @abstractmethod
    async def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken: ...

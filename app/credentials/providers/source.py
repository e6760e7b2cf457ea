"""What the source provider adapters (GitHub, GitLab, Bitbucket: `source_hosts`) share:
one GET with the credential, the check, the OAuth code exchange, and the shape of the two
repository reads (a page of repositories; one repository with its branches and tags),
each host filling in its URLs and how its JSON maps onto ours.

A credential holds `access_token` (pasted, or obtained through OAuth) and, for a Bitbucket
app password, `username`.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from app.credentials.providers.base import (
    CheckResult,
    CredentialRejected,
    HttpAdapter,
    OAuthToken,
    ProviderError,
    SourceAdapter,
)
from app.credentials.schemas import (
    Commit,
    Repository,
    RepositoryBranch,
    RepositoryRelation,
    RepositoryTag,
    RepositoryTagCommit,
)

MAX_REFS = 100


def text(value: Any) -> str:
    """A JSON value as the text our schemas hold ("" for null)."""
    return "" if value is None else str(value)


class SourceHttpAdapter(HttpAdapter, SourceAdapter):
    name = ""
    # Where, below a repository's URL, its branches and tags are listed.
    branches_path = "branches"
    tags_path = "tags"
    # The query parameter that sizes a page of branches or tags.
    page_size = "per_page"

    def auth_headers(self, credential: Mapping[str, str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {credential['access_token']}"}

    async def _get(
        self, http: httpx.AsyncClient, url: str, credential: Mapping[str, str], **params: Any
    ) -> httpx.Response:
        try:
            return await http.get(url, params=params or None, headers=self.auth_headers(credential))
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.name}: {type(exc).__name__}") from exc

    async def _fetch(
        self, credential: Mapping[str, str], url: str, **params: Any
    ) -> tuple[httpx.Response, Any]:
        """One GET, answered with the response and its JSON body; a refusal raised."""
        async with self.client() as http:
            response = await self._get(http, url, credential, **params)
        self.raise_for(response, self.name)
        return response, self.json(response, self.name)

    async def check(self, credential: Mapping[str, str]) -> CheckResult:
        try:
            user = await self.current_user(credential)
        except CredentialRejected as exc:
            return CheckResult(False, str(exc))
        except ProviderError as exc:
            return CheckResult(False, f"The provider could not be reached: {exc}")
        return CheckResult(True, f"Authenticated on {self.name} as {user.nickname}.")

    @staticmethod
    def _authorize_url(url: str, query: dict[str, str], state: str | None) -> str:
        if state:
            query["state"] = state
        return f"{url}?{urlencode(query)}"

    async def _exchange(self, url: str, data: dict[str, str], **kwargs: Any) -> OAuthToken:
        try:
            async with self.client(headers={"Accept": "application/json"}) as http:
                response = await http.post(url, data=data, **kwargs)
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.name}: {type(exc).__name__}") from exc
        body = self.json(response, self.name) if response.content else {}
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code >= 400 or not token:
            raise CredentialRejected(
                f"{self.name} did not accept the authorization code"
                f" ({body.get('error', response.status_code) if isinstance(body, dict) else ''})."
            )
        expires_in = body.get("expires_in")
        return OAuthToken(
            access_token=token,
            refresh_token=body.get("refresh_token"),
            expires_at=datetime.now(UTC) + timedelta(seconds=int(expires_in))
            if isinstance(expires_in, int)
            else None,
        )

    # ------------------------------------------------------------------ repositories

    async def repositories(
        self, credential: Mapping[str, str], page: int, per_page: int
    ) -> tuple[list[RepositoryRelation], int]:
        url, params = self._repositories_query(page, per_page)
        response, body = await self._fetch(credential, url, **params)
        items = [self._relation(i) for i in self._values(body)]
        seen = (page - 1) * per_page + len(items)
        return items, self._total(response, body, per_page, seen)

    async def repository(
        self, credential: Mapping[str, str], owner: str, name: str
    ) -> Repository | None:
        base = self._repository_url(owner, name)
        refs = {self.page_size: MAX_REFS}
        async with self.client() as http:
            response = await self._get(http, base, credential)
            if response.status_code == 404:
                return None
            self.raise_for(response, self.name)
            repo = self.json(response, self.name)
            branches_r, tags_r = await asyncio.gather(
                self._get(http, f"{base}/{self.branches_path}", credential, **refs),
                self._get(http, f"{base}/{self.tags_path}", credential, **refs),
            )
            self.raise_for(branches_r, self.name)
            self.raise_for(tags_r, self.name)
            branch_items = self._values(self.json(branches_r, self.name))
            details = await self._branch_details(http, base, credential, branch_items)
        relation = self._relation(repo)
        branches = [
            RepositoryBranch(
                name=text(branch.get("name")),
                repo_full_name=relation.full_name,
                commit=self._commit(branch, detail, relation),
            )
            for branch, detail in zip(branch_items, details, strict=True)
        ]
        tags = [
            RepositoryTag(name=text(t.get("name")), commit=self._tag_commit(t, relation))
            for t in self._values(self.json(tags_r, self.name))
        ]
        return Repository(**relation.model_dump(), branches=branches, tags=tags)

    # What each host fills in.

    @staticmethod
    def _values(body: Any) -> Any:
        """The items of a listing's JSON body (the body itself unless the host wraps it)."""
        return body

    @abstractmethod
    def _repositories_query(self, page: int, per_page: int) -> tuple[str, dict[str, Any]]:
        """The URL and query of one page of the repositories the credential reaches."""

    def _total(self, response: httpx.Response, body: Any, per_page: int, seen: int) -> int:
        """The number of repositories in all pages; `seen` when the host does not tell."""
        return seen

    @abstractmethod
    def _repository_url(self, owner: str, name: str) -> str: ...

    @staticmethod
    @abstractmethod
    def _relation(item: Mapping[str, Any]) -> RepositoryRelation: ...

    async def _branch_details(
        self, http: httpx.AsyncClient, base: str, credential: Mapping[str, str],
        branches: list[Any],
    ) -> list[Any]:
        """What else a branch's commit needs to be read (nothing unless the host's listing
        leaves it out)."""
        return [None] * len(branches)

    @abstractmethod
    def _commit(
        self, branch: Mapping[str, Any], detail: Any, relation: RepositoryRelation
    ) -> Commit: ...

    @staticmethod
    @abstractmethod
    def _tag_commit(tag: Mapping[str, Any], relation: RepositoryRelation) -> RepositoryTagCommit:
        ...

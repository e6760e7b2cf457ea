"""Source provider adapters (GitHub, GitLab, Bitbucket) over their REST APIs with httpx.

A credential holds `access_token` (pasted, or obtained through OAuth) and, for a Bitbucket
app password, `username`.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from app.credentials.providers.base import (
    CheckResult,
    CredentialRejected,
    HttpAdapter,
    OAuthToken,
    ProviderError,
    ProviderUser,
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
_LAST_PAGE = re.compile(r'<[^>]*[?&]page=(\d+)[^>]*>;\s*rel="last"')


def _s(value: Any) -> str:
    return "" if value is None else str(value)


class _Source(HttpAdapter, SourceAdapter):
    name = ""

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


class GitHubAdapter(_Source):
    name = "GitHub"

    @property
    def api(self) -> str:
        return self.settings.github_api_url.rstrip("/")

    def auth_headers(self, credential: Mapping[str, str]) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {credential['access_token']}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    async def current_user(self, credential: Mapping[str, str]) -> ProviderUser:
        _, body = await self._fetch(credential, f"{self.api}/user")
        return ProviderUser(id=_s(body.get("id")), nickname=_s(body.get("login")))

    @staticmethod
    def _relation(item: Mapping[str, Any]) -> RepositoryRelation:
        return RepositoryRelation(
            name=_s(item.get("name")),
            user_name=_s((item.get("owner") or {}).get("login")),
            full_name=_s(item.get("full_name")),
            html_url=_s(item.get("html_url")),
        )

    async def repositories(
        self, credential: Mapping[str, str], page: int, per_page: int
    ) -> tuple[list[RepositoryRelation], int]:
        response, body = await self._fetch(
            credential, f"{self.api}/user/repos",
            page=page, per_page=per_page, sort="full_name",
        )
        items = [self._relation(i) for i in body]
        # GitHub tells the last page, not the count: the total is exact to within a page.
        match = _LAST_PAGE.search(response.headers.get("Link", ""))
        if match:
            seen = (page - 1) * per_page + len(items)
            total = max((int(match.group(1)) - 1) * per_page + 1, seen)
        else:
            total = (page - 1) * per_page + len(items)
        return items, total

    async def repository(
        self, credential: Mapping[str, str], owner: str, name: str
    ) -> Repository | None:
        base = f"{self.api}/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        async with self.client() as http:
            response = await self._get(http, base, credential)
            if response.status_code == 404:
                return None
            self.raise_for(response, self.name)
            repo = self.json(response, self.name)
            branches_r, tags_r = await asyncio.gather(
                self._get(http, f"{base}/branches", credential, per_page=MAX_REFS),
                self._get(http, f"{base}/tags", credential, per_page=MAX_REFS),
            )
            self.raise_for(branches_r, self.name)
            self.raise_for(tags_r, self.name)
            branch_items = self.json(branches_r, self.name)
            commits = await asyncio.gather(
                *(
                    self._get(http, f"{base}/commits/{b['commit']['sha']}", credential)
                    for b in branch_items
                )
            )
        relation = self._relation(repo)
        branches = []
        for branch, commit_r in zip(branch_items, commits, strict=True):
            data = self.json(commit_r, self.name) if commit_r.status_code == 200 else {}
            info = data.get("commit", {})
            author = info.get("author") or {}
            branches.append(
                RepositoryBranch(
                    name=_s(branch.get("name")),
                    repo_full_name=relation.full_name,
                    commit=Commit(
                        hash=_s(branch["commit"]["sha"]),
                        message=_s(info.get("message")),
                        committed_at=_s(author.get("date")),
                        provider="github",
                        repository=relation.full_name,
                        url=_s(data.get("html_url")),
                        author_email=_s(author.get("email")),
                        author_name=_s(author.get("name")),
                    ),
                )
            )
        tags = [
            RepositoryTag(
                name=_s(t.get("name")),
                commit=RepositoryTagCommit(
                    hash=_s(t["commit"]["sha"]),
                    url=f"{relation.html_url}/commit/{t['commit']['sha']}",
                ),
            )
            for t in self.json(tags_r, self.name)
        ]
        return Repository(**relation.model_dump(), branches=branches, tags=tags)

    def connect_url(self, redirect_uri: str, state: str | None) -> str | None:
        if not self.settings.github_client_id:
            return None
        query = {"client_id": self.settings.github_client_id, "redirect_uri": redirect_uri,
                 "scope": "repo read:org"}
        if state:
            query["state"] = state
        web = self.settings.github_web_url.rstrip("/")
        return f"{web}/login/oauth/authorize?{urlencode(query)}"

    async def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        return await self._exchange(
            f"{self.settings.github_web_url.rstrip('/')}/login/oauth/access_token",
            {
                "client_id": self.settings.github_client_id or "",
                "client_secret": self.settings.github_client_secret or "",
                "code": code,
                "redirect_uri": redirect_uri,
            },
        )


class GitLabAdapter(_Source):
    name = "GitLab"

    @property
    def api(self) -> str:
        return f"{self.settings.gitlab_url.rstrip('/')}/api/v4"

    async def current_user(self, credential: Mapping[str, str]) -> ProviderUser:
        _, body = await self._fetch(credential, f"{self.api}/user")
        return ProviderUser(id=_s(body.get("id")), nickname=_s(body.get("username")))

    @staticmethod
    def _relation(item: Mapping[str, Any]) -> RepositoryRelation:
        return RepositoryRelation(
            name=_s(item.get("path")),
            user_name=_s((item.get("namespace") or {}).get("full_path")),
            full_name=_s(item.get("path_with_namespace")),
            html_url=_s(item.get("web_url")),
        )

    async def repositories(
        self, credential: Mapping[str, str], page: int, per_page: int
    ) -> tuple[list[RepositoryRelation], int]:
        response, body = await self._fetch(
            credential, f"{self.api}/projects",
            membership="true", page=page, per_page=per_page, order_by="path", sort="asc",
        )
        items = [self._relation(i) for i in body]
        total_header = response.headers.get("X-Total", "")
        total = int(total_header) if total_header.isdigit() else (page - 1) * per_page + len(items)
        return items, total

    async def repository(
        self, credential: Mapping[str, str], owner: str, name: str
    ) -> Repository | None:
        base = f"{self.api}/projects/{quote(f'{owner}/{name}', safe='')}"
        async with self.client() as http:
            response = await self._get(http, base, credential)
            if response.status_code == 404:
                return None
            self.raise_for(response, self.name)
            repo = self.json(response, self.name)
            branches_r, tags_r = await asyncio.gather(
                self._get(http, f"{base}/repository/branches", credential, per_page=MAX_REFS),
                self._get(http, f"{base}/repository/tags", credential, per_page=MAX_REFS),
            )
        self.raise_for(branches_r, self.name)
        self.raise_for(tags_r, self.name)
        relation = self._relation(repo)
        branches = [
            RepositoryBranch(
                name=_s(b.get("name")),
                repo_full_name=relation.full_name,
                commit=Commit(
                    hash=_s(b["commit"].get("id")),
                    message=_s(b["commit"].get("message")),
                    committed_at=_s(b["commit"].get("committed_date")),
                    provider="gitlab",
                    repository=relation.full_name,
                    url=_s(b["commit"].get("web_url")),
                    author_email=_s(b["commit"].get("author_email")),
                    author_name=_s(b["commit"].get("author_name")),
                ),
            )
            for b in self.json(branches_r, self.name)
        ]
        tags = [
            RepositoryTag(
                name=_s(t.get("name")),
                commit=RepositoryTagCommit(
                    hash=_s(t["commit"].get("id")), url=_s(t["commit"].get("web_url"))
                ),
            )
            for t in self.json(tags_r, self.name)
        ]
        return Repository(**relation.model_dump(), branches=branches, tags=tags)

    def connect_url(self, redirect_uri: str, state: str | None) -> str | None:
        if not self.settings.gitlab_client_id:
            return None
        query = {"client_id": self.settings.gitlab_client_id, "redirect_uri": redirect_uri,
                 "response_type": "code", "scope": "read_api read_repository read_user"}
        if state:
            query["state"] = state
        return f"{self.settings.gitlab_url.rstrip('/')}/oauth/authorize?{urlencode(query)}"

    async def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        return await self._exchange(
            f"{self.settings.gitlab_url.rstrip('/')}/oauth/token",
            {
                "client_id": self.settings.gitlab_client_id or "",
                "client_secret": self.settings.gitlab_client_secret or "",
                "code": code,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
            },
        )


class BitbucketAdapter(_Source):
    name = "Bitbucket"

    @property
    def api(self) -> str:
        return self.settings.bitbucket_api_url.rstrip("/")

    def auth_headers(self, credential: Mapping[str, str]) -> dict[str, str]:
        username = credential.get("username")
        if username:
            # An app password is a password: Bitbucket expects it with the username.
            pair = f"{username}:{credential['access_token']}".encode()
            return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
        return {"Authorization": f"Bearer {credential['access_token']}"}

    async def current_user(self, credential: Mapping[str, str]) -> ProviderUser:
        _, body = await self._fetch(credential, f"{self.api}/user")
        return ProviderUser(
            id=_s(body.get("uuid") or body.get("account_id")),
            nickname=_s(body.get("username") or body.get("nickname")),
        )

    @staticmethod
    def _relation(item: Mapping[str, Any]) -> RepositoryRelation:
        full_name = _s(item.get("full_name"))
        return RepositoryRelation(
            name=_s(item.get("slug") or full_name.split("/")[-1]),
            user_name=_s((item.get("workspace") or {}).get("slug") or full_name.split("/")[0]),
            full_name=full_name,
            html_url=_s(((item.get("links") or {}).get("html") or {}).get("href")),
        )

    async def repositories(
        self, credential: Mapping[str, str], page: int, per_page: int
    ) -> tuple[list[RepositoryRelation], int]:
        _, body = await self._fetch(
            credential, f"{self.api}/repositories",
            role="member", page=page, pagelen=per_page, sort="full_name",
        )
        items = [self._relation(i) for i in body.get("values", [])]
        size = body.get("size")
        total = int(size) if isinstance(size, int) else (page - 1) * per_page + len(items)
        return items, total

    async def repository(
        self, credential: Mapping[str, str], owner: str, name: str
    ) -> Repository | None:
        base = f"{self.api}/repositories/{quote(owner, safe='')}/{quote(name, safe='')}"
        async with self.client() as http:
            response = await self._get(http, base, credential)
            if response.status_code == 404:
                return None
            self.raise_for(response, self.name)
            repo = self.json(response, self.name)
            branches_r, tags_r = await asyncio.gather(
                self._get(http, f"{base}/refs/branches", credential, pagelen=MAX_REFS),
                self._get(http, f"{base}/refs/tags", credential, pagelen=MAX_REFS),
            )
        self.raise_for(branches_r, self.name)
        self.raise_for(tags_r, self.name)
        relation = self._relation(repo)
        branches = []
        for b in self.json(branches_r, self.name).get("values", []):
            target = b.get("target") or {}
            raw_author = _s((target.get("author") or {}).get("raw"))
            author_match = re.fullmatch(r"\s*(.*?)\s*<([^>]*)>\s*", raw_author)
            branches.append(
                RepositoryBranch(
                    name=_s(b.get("name")),
                    repo_full_name=relation.full_name,
                    commit=Commit(
                        hash=_s(target.get("hash")),
                        message=_s(target.get("message")),
                        committed_at=_s(target.get("date")),
                        provider="bitbucket",
                        repository=relation.full_name,
                        url=_s(((target.get("links") or {}).get("html") or {}).get("href")),
                        author_email=author_match.group(2) if author_match else "",
                        author_name=author_match.group(1) if author_match else raw_author,
                    ),
                )
            )
        tags = [
            RepositoryTag(
                name=_s(t.get("name")),
                commit=RepositoryTagCommit(
                    hash=_s((t.get("target") or {}).get("hash")),
                    url=_s((((t.get("target") or {}).get("links") or {}).get("html") or {})
                           .get("href")),
                ),
            )
            for t in self.json(tags_r, self.name).get("values", [])
        ]
        return Repository(**relation.model_dump(), branches=branches, tags=tags)

    def connect_url(self, redirect_uri: str, state: str | None) -> str | None:
        if not self.settings.bitbucket_client_id:
            return None
        query = {"client_id": self.settings.bitbucket_client_id, "response_type": "code",
                 "redirect_uri": redirect_uri}
        if state:
            query["state"] = state
        web = self.settings.bitbucket_web_url.rstrip("/")
        return f"{web}/site/oauth2/authorize?{urlencode(query)}"

    async def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        return await self._exchange(
            f"{self.settings.bitbucket_web_url.rstrip('/')}/site/oauth2/access_token",
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            auth=(self.settings.bitbucket_client_id or "", self.settings.bitbucket_client_secret
                  or ""),
        )

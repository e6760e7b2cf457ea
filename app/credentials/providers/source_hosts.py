"""The source hosts: GitHub (`GITHUB_API_URL`, `GITHUB_WEB_URL`), GitLab (`GITLAB_URL`) and
Bitbucket (`BITBUCKET_API_URL`, `BITBUCKET_WEB_URL`), each as the URLs of its REST API and
OAuth application and the way its JSON maps onto our repositories, branches and commits.
What they share (the requests, the check, the code exchange, the shape of the reads) is
`app.credentials.providers.source`.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from app.credentials.providers.base import OAuthToken, ProviderUser
from app.credentials.providers.source import SourceHttpAdapter, text
from app.credentials.schemas import Commit, RepositoryRelation, RepositoryTagCommit

_GITHUB_LAST_PAGE = re.compile(r'<[^>]*[?&]page=(\d+)[^>]*>;\s*rel="last"')


class GitHubAdapter(SourceHttpAdapter):
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
        return ProviderUser(id=text(body.get("id")), nickname=text(body.get("login")))

    @staticmethod
    def _relation(item: Mapping[str, Any]) -> RepositoryRelation:
        return RepositoryRelation(
            name=text(item.get("name")),
            user_name=text((item.get("owner") or {}).get("login")),
            full_name=text(item.get("full_name")),
            html_url=text(item.get("html_url")),
        )

    def _repositories_query(self, page: int, per_page: int) -> tuple[str, dict[str, Any]]:
        return f"{self.api}/user/repos", {"page": page, "per_page": per_page, "sort": "full_name"}

    def _total(self, response: httpx.Response, body: Any, per_page: int, seen: int) -> int:
        # GitHub tells the last page, not the count: the total is exact to within a page.
        match = _GITHUB_LAST_PAGE.search(response.headers.get("Link", ""))
        return max((int(match.group(1)) - 1) * per_page + 1, seen) if match else seen

    def _repository_url(self, owner: str, name: str) -> str:
        return f"{self.api}/repos/{quote(owner, safe='')}/{quote(name, safe='')}"

    async def _branch_details(
        self, http: httpx.AsyncClient, base: str, credential: Mapping[str, str],
        branches: list[Any],
    ) -> list[Any]:
        # A branch listing names its commit only: message, author and date are read apiece.
        return await asyncio.gather(
            *(self._get(http, f"{base}/commits/{b['commit']['sha']}", credential) for b in branches)
        )

    def _commit(
        self, branch: Mapping[str, Any], detail: Any, relation: RepositoryRelation
    ) -> Commit:
        data = self.json(detail, self.name) if detail.status_code == 200 else {}
        info = data.get("commit", {})
        author = info.get("author") or {}
        return Commit(
            hash=text(branch["commit"]["sha"]),
            message=text(info.get("message")),
            committed_at=text(author.get("date")),
            provider="github",
            repository=relation.full_name,
            url=text(data.get("html_url")),
            author_email=text(author.get("email")),
            author_name=text(author.get("name")),
        )

    @staticmethod
    def _tag_commit(tag: Mapping[str, Any], relation: RepositoryRelation) -> RepositoryTagCommit:
        sha = tag["commit"]["sha"]
        return RepositoryTagCommit(hash=text(sha), url=f"{relation.html_url}/commit/{sha}")

    def connect_url(self, redirect_uri: str, state: str | None) -> str | None:
        if not self.settings.github_client_id:
            return None
        return self._authorize_url(
            f"{self.settings.github_web_url.rstrip('/')}/login/oauth/authorize",
            {"client_id": self.settings.github_client_id, "redirect_uri": redirect_uri,
             "scope": "repo read:org"},
            state,
        )

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


class GitLabAdapter(SourceHttpAdapter):
    name = "GitLab"
    branches_path = "repository/branches"
    tags_path = "repository/tags"

    @property
    def api(self) -> str:
        return f"{self.settings.gitlab_url.rstrip('/')}/api/v4"

    async def current_user(self, credential: Mapping[str, str]) -> ProviderUser:
        _, body = await self._fetch(credential, f"{self.api}/user")
        return ProviderUser(id=text(body.get("id")), nickname=text(body.get("username")))

    @staticmethod
    def _relation(item: Mapping[str, Any]) -> RepositoryRelation:
        return RepositoryRelation(
            name=text(item.get("path")),
            user_name=text((item.get("namespace") or {}).get("full_path")),
            full_name=text(item.get("path_with_namespace")),
            html_url=text(item.get("web_url")),
        )

    def _repositories_query(self, page: int, per_page: int) -> tuple[str, dict[str, Any]]:
        return f"{self.api}/projects", {
            "membership": "true", "page": page, "per_page": per_page, "order_by": "path",
            "sort": "asc",
        }

    def _total(self, response: httpx.Response, body: Any, per_page: int, seen: int) -> int:
        total = response.headers.get("X-Total", "")
        return int(total) if total.isdigit() else seen

    def _repository_url(self, owner: str, name: str) -> str:
        return f"{self.api}/projects/{quote(f'{owner}/{name}', safe='')}"

    def _commit(
        self, branch: Mapping[str, Any], detail: Any, relation: RepositoryRelation
    ) -> Commit:
        commit = branch["commit"]
        return Commit(
            hash=text(commit.get("id")),
            message=text(commit.get("message")),
            committed_at=text(commit.get("committed_date")),
            provider="gitlab",
            repository=relation.full_name,
            url=text(commit.get("web_url")),
            author_email=text(commit.get("author_email")),
            author_name=text(commit.get("author_name")),
        )

    @staticmethod
    def _tag_commit(tag: Mapping[str, Any], relation: RepositoryRelation) -> RepositoryTagCommit:
        return RepositoryTagCommit(
            hash=text(tag["commit"].get("id")), url=text(tag["commit"].get("web_url"))
        )

    def connect_url(self, redirect_uri: str, state: str | None) -> str | None:
        if not self.settings.gitlab_client_id:
            return None
        return self._authorize_url(
            f"{self.settings.gitlab_url.rstrip('/')}/oauth/authorize",
            {"client_id": self.settings.gitlab_client_id, "redirect_uri": redirect_uri,
             "response_type": "code", "scope": "read_api read_repository read_user"},
            state,
        )

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


def _bitbucket_html_url(item: Mapping[str, Any]) -> str:
    return text(((item.get("links") or {}).get("html") or {}).get("href"))


class BitbucketAdapter(SourceHttpAdapter):
    name = "Bitbucket"
    branches_path = "refs/branches"
    tags_path = "refs/tags"
    page_size = "pagelen"

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
            id=text(body.get("uuid") or body.get("account_id")),
            nickname=text(body.get("username") or body.get("nickname")),
        )

    @staticmethod
    def _values(body: Any) -> Any:
        return body.get("values", [])

    @staticmethod
    def _relation(item: Mapping[str, Any]) -> RepositoryRelation:
        full_name = text(item.get("full_name"))
        return RepositoryRelation(
            name=text(item.get("slug") or full_name.split("/")[-1]),
            user_name=text((item.get("workspace") or {}).get("slug") or full_name.split("/")[0]),
            full_name=full_name,
            html_url=_bitbucket_html_url(item),
        )

    def _repositories_query(self, page: int, per_page: int) -> tuple[str, dict[str, Any]]:
        return f"{self.api}/repositories", {
            "role": "member", "page": page, "pagelen": per_page, "sort": "full_name",
        }

    def _total(self, response: httpx.Response, body: Any, per_page: int, seen: int) -> int:
        size = body.get("size")
        return int(size) if isinstance(size, int) else seen

    def _repository_url(self, owner: str, name: str) -> str:
        return f"{self.api}/repositories/{quote(owner, safe='')}/{quote(name, safe='')}"

    def _commit(
        self, branch: Mapping[str, Any], detail: Any, relation: RepositoryRelation
    ) -> Commit:
        target = branch.get("target") or {}
        raw_author = text((target.get("author") or {}).get("raw"))
        author_match = re.fullmatch(r"\s*(.*?)\s*<([^>]*)>\s*", raw_author)
        return Commit(
            hash=text(target.get("hash")),
            message=text(target.get("message")),
            committed_at=text(target.get("date")),
            provider="bitbucket",
            repository=relation.full_name,
            url=_bitbucket_html_url(target),
            author_email=author_match.group(2) if author_match else "",
            author_name=author_match.group(1) if author_match else raw_author,
        )

    @staticmethod
    def _tag_commit(tag: Mapping[str, Any], relation: RepositoryRelation) -> RepositoryTagCommit:
        target = tag.get("target") or {}
        return RepositoryTagCommit(hash=text(target.get("hash")), url=_bitbucket_html_url(target))

    def connect_url(self, redirect_uri: str, state: str | None) -> str | None:
        if not self.settings.bitbucket_client_id:
            return None
        return self._authorize_url(
            f"{self.settings.bitbucket_web_url.rstrip('/')}/site/oauth2/authorize",
            {"client_id": self.settings.bitbucket_client_id, "response_type": "code",
             "redirect_uri": redirect_uri},
            state,
        )

    async def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        return await self._exchange(
            f"{self.settings.bitbucket_web_url.rstrip('/')}/site/oauth2/access_token",
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            auth=(self.settings.bitbucket_client_id or "", self.settings.bitbucket_client_secret
                  or ""),
        )

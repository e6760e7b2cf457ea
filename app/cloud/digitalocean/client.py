"""What every DigitalOcean capability shares: the REST client (v2) over httpx, tags and error
messages."""

from __future__ import annotations

import functools
import re
import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from app.cloud.base import CloudError, CredentialRejected, QuotaExceeded
from app.core.settings import Settings

KEY_NAME_PREFIX = "devopness-"
KEY_TAG = "devopness-ssh-key"

_STATUS = {"new": "pending", "active": "running", "off": "stopped", "archive": "terminated"}


class _Missing(CloudError):
    """404 from DigitalOcean; each caller says what was missing."""


def image_slug(os_version_code: str) -> str:
    match = re.fullmatch(r"ubuntu_(\d{2})_(\d{2})", os_version_code)
    if not match:
        raise CloudError(f"DigitalOcean has no image for the OS version {os_version_code!r}.")
    return f"ubuntu-{match[1]}-{match[2]}-x64"


def _tag(value: str) -> str:
    # Tags allow letters, digits, colons, dashes and underscores, up to 255 characters.
    return re.sub(r"[^A-Za-z0-9:_-]", "_", value)[:255]


def _volume_name(name: str) -> str:
    # Lowercase letters, digits and dashes, starting with a letter, at most 64.
    base = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-") or "server"
    if not base[0].isalpha():
        base = f"v-{base}"
    return f"{base[:58]}-data"


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return response.reason_phrase or f"HTTP {response.status_code}"


@functools.cache
def _tls() -> ssl.SSLContext:
    # Building the default context reads the CA bundle (tens of ms); one per process.
    return httpx.create_ssl_context()


class _Api:
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._token = credential.get("api_token", "")
        self._base = settings.digitalocean_api_url.rstrip("/")
        self._timeout = settings.provider_timeout_seconds

    async def call(
        self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        if not self._token:
            raise CredentialRejected("The DigitalOcean credential has no API token.")
        headers = {"Authorization": f"Bearer {self._token}", "User-Agent": "devopness-server"}
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, headers=headers, verify=_tls()
            ) as http:
                response = await http.request(
                    method, f"{self._base}{path}", json=body, params=params
                )
        except httpx.HTTPError as exc:
            raise CloudError(f"DigitalOcean could not be reached ({type(exc).__name__}).") from exc
        if response.status_code < 400:
            if not response.content:
                return {}
            try:
                data = response.json()
            except ValueError as exc:
                raise CloudError("DigitalOcean did not answer JSON.") from exc
            if not isinstance(data, dict):
                raise CloudError("DigitalOcean answered JSON that is not an object.")
            return data
        message = _message(response)
        status = response.status_code
        if status == 401:
            raise CredentialRejected(f"DigitalOcean rejected the API token: {message}")
        # 403 is both "this token may not do that" (a read-only token) and a refusal of
        # the request itself (a VPC that still has members): only the first is the
        # credential's fault.
        if status == 403 and re.search(r"authori[sz]|permission|scope", message, re.I):
            raise CredentialRejected(
                f"DigitalOcean refused the token ({message}); it may be read-only."
            )
        if status == 404:
            raise _Missing(message)
        if status in (422, 429) and "limit" in message.lower():
            raise QuotaExceeded(f"DigitalOcean: {message}")
        raise CloudError(f"DigitalOcean answered {status}: {message}")

    async def every(self, path: str, field: str) -> list[dict[str, Any]]:
        """All items of a paged collection (`links.pages.next` says whether more follow)."""
        items: list[dict[str, Any]] = []
        for page in range(1, 1000):
            data = await self.call("GET", path, params={"per_page": 200, "page": page})
            found = data.get(field)
            if not isinstance(found, list):
                raise CloudError(f"DigitalOcean answered GET {path} without {field}.")
            items.extend(i for i in found if isinstance(i, dict))
            if not (data.get("links") or {}).get("pages", {}).get("next") or not found:
                return items
        raise CloudError(f"DigitalOcean kept paging GET {path}.")

    async def one(
        self, method: str, path: str, field: str, *, body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The object DigitalOcean wraps under `field` ({"droplet": {...}})."""
        data = (await self.call(method, path, body=body, params=params)).get(field)
        if not isinstance(data, dict):
            raise CloudError(f"DigitalOcean answered {method} {path} without a {field}.")
        return data

"""Where a deploy fetches the application's code from: the git URL (the reference's
`owner/name` on its credential's provider, or a URL the user gave), the provider's token
handed only to that provider, and the commit links shown in `action_data`."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.applications.models import Application
from app.core import outbound
from app.core.security import SecretBox
from app.core.settings import Settings
from app.credentials.catalogue import ProviderType
from app.credentials.models import Credential
from app.credentials.repository import CredentialRepository
from app.credentials.secrets import unseal

_SCP_LIKE = re.compile(r"^[\w.+-]+@[\w.-]+:")
# How each source provider takes a token over HTTPS (username, password = token).
_TOKEN_USERS = {"github": "x-access-token", "gitlab": "oauth2", "bitbucket": "x-token-auth"}


def is_git_url(repository: str) -> bool:
    """A URL or path git reaches by itself (not the reference's `owner/name`)."""
    return "://" in repository or repository.startswith("/") or bool(
        _SCP_LIKE.match(repository)
    )


def provider_web_url(settings: Settings, provider_code: str) -> str | None:
    return {
        "github": settings.github_web_url,
        "gitlab": settings.gitlab_url,
        "bitbucket": settings.bitbucket_web_url,
    }.get(provider_code)


def source_links(
    settings: Settings, provider_code: str, repository: str, sha: str, fetched_from: str
) -> dict[str, str]:
    """The reference's commit links (`url`, `clone_url`, `download_url`) for a provider's
    `owner/name`; for another git URL (`fetched_from`) only `clone_url` is known."""
    web = provider_web_url(settings, provider_code)
    if web is None or is_git_url(repository) or not fetched_from.startswith(web):
        return {"url": "", "clone_url": _without_userinfo(fetched_from), "download_url": ""}
    base = f"{web.rstrip('/')}/{repository}"
    name = repository.partition("/")[2]
    if provider_code == "gitlab":
        url, download = f"{base}/-/commit/{sha}", f"{base}/-/archive/{sha}/{name}-{sha}.tar.gz"
    elif provider_code == "bitbucket":
        url, download = f"{base}/commits/{sha}", f"{base}/get/{sha}.tar.gz"
    else:
        url, download = f"{base}/commit/{sha}", f"{base}/archive/{sha}.tar.gz"
    return {"url": url, "clone_url": f"{base}.git", "download_url": download}


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return url


async def source_credential(
    session: AsyncSession, application: Application
) -> Credential | None:
    """The application's source provider credential, only when it is usable in the
    application's environment (`CredentialRepository.usable_in`): a bare id never reaches
    another tenant's secrets."""
    if application.credential_id is None:
        return None
    credential = await CredentialRepository(session).usable_in(
        application.credential_id, application.environment_id, relations=False
    )
    if credential is None or credential.provider_type != ProviderType.SOURCE.value:
        return None
    return credential


async def git_source(
    session: AsyncSession, settings: Settings, box: SecretBox, application: Application,
    override: str | None,
) -> tuple[str, str, str]:
    """(git URL, token username, token) for the application's repository."""
    credential = await source_credential(session, application)
    if override:
        url = override
        await _check_git_host(url, settings)
    elif is_git_url(application.repository):
        url = application.repository
        await _check_git_host(url, settings)
    elif credential is not None and (web := provider_web_url(settings, credential.provider_code)):
        url = f"{web.rstrip('/')}/{application.repository}.git"
    else:
        raise builtins.ContextUnavailable(
            f"Cannot tell where repository {application.repository!r} is hosted: link the "
            "application's source provider credential to its environment, or set the "
            "application variable DEVOPNESS_GIT_URL."
        )
    if credential is None:
        return url, "", ""
    provider = urlsplit(provider_web_url(settings, credential.provider_code) or "")
    target = urlsplit(url)
    if not provider.scheme.startswith("http") or (
        target.scheme, target.hostname, target.port
    ) != (provider.scheme, provider.hostname, provider.port):
        # A token goes only to the provider it was issued for, the way it is configured
        # (HTTPS unless an operator set up a provider on plain HTTP).
        return url, "", ""
    values = unseal(box, credential.settings_encrypted)
    token = values.get("access_token", "")
    user = values.get("username") or _TOKEN_USERS.get(credential.provider_code, "git")
    return url, (user if token else ""), token


async def _check_git_host(url: str, settings: Settings) -> None:
    """A git URL a user gave passes the outbound policy (app.core.outbound): a deploy
    never points a server's fetch at an internal address. A name the control plane cannot
    resolve is left to the server (it may know names the control plane does not)."""
    host = outbound.url_host(url)
    if not host:
        return  # a path on the server itself
    try:
        outbound.check_host(host, settings)
        with contextlib.suppress(outbound.Unresolvable):
            await outbound.resolve(host, 0, settings)
    except outbound.OutboundRefused as exc:
        raise builtins.ContextUnavailable(f"The repository URL is refused: {exc}") from exc

"""Provider adapters, one per provider code, behind `cloud_adapter` and `source_adapter`."""

from __future__ import annotations

from app.core.settings import Settings
from app.credentials.providers.base import CloudAdapter, SourceAdapter
from app.credentials.providers.cloud import (
    AwsAdapter,
    AzureAdapter,
    DigitalOceanAdapter,
    GoogleCloudAdapter,
    HetznerAdapter,
)
from app.credentials.providers.source_hosts import BitbucketAdapter, GitHubAdapter, GitLabAdapter

_CLOUD: dict[str, type[CloudAdapter]] = {
    "aws": AwsAdapter,
    "azure": AzureAdapter,
    "digitalocean": DigitalOceanAdapter,
    "gcp": GoogleCloudAdapter,
    "hetzner": HetznerAdapter,
}
_SOURCE: dict[str, type[SourceAdapter]] = {
    "github": GitHubAdapter,
    "gitlab": GitLabAdapter,
    "bitbucket": BitbucketAdapter,
}


def cloud_adapter(code: str, settings: Settings) -> CloudAdapter | None:
    adapter = _CLOUD.get(code)
    return adapter(settings) if adapter else None  # type: ignore[call-arg]


def source_adapter(code: str, settings: Settings) -> SourceAdapter | None:
    adapter = _SOURCE.get(code)
    return adapter(settings) if adapter else None  # type: ignore[call-arg]


def oauth_redirect_uri(settings: Settings, code: str) -> str:
    """The callback registered with the provider's OAuth application."""
    return f"{settings.public_url.rstrip('/')}/oauth/{code}/callback"

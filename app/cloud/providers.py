"""`cloud_service_code` -> the provider classes (imported on first use: each pulls in its
provider's client library)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from app.cloud.base import CatalogueProvider, ComputeProvider, NetworkProvider
from app.core.settings import Settings

# code -> (module, compute class, network class or None, catalogue class)
PROVIDERS: dict[str, tuple[str, str, str | None, str]] = {
    "aws-ec2": ("app.cloud.aws", "AwsCompute", "AwsNetworks", "AwsCatalogue"),
    "digitalocean-droplet": ("app.cloud.digitalocean", "DigitalOceanCompute",
                             "DigitalOceanNetworks", "DigitalOceanCatalogue"),
    "hetzner-hcloud": ("app.cloud.hetzner", "HetznerCompute", "HetznerNetworks",
                       "HetznerCatalogue"),
    "gcp-gce": ("app.cloud.gcp", "GcpCompute", "GcpNetworks", "GcpCatalogue"),
    "azure-rm": ("app.cloud.azure", "AzureCompute", "AzureNetworks", "AzureCatalogue"),
}


def is_cloud(code: str) -> bool:
    return code in PROVIDERS


def _build(code: str, capability: int, credential: Mapping[str, str], settings: Settings) -> Any:
    """The provider's class for a capability (1 compute, 2 networks, 3 catalogue: its place
    in PROVIDERS), imported on first use and built; None where the provider has none."""
    entry = PROVIDERS[code]
    name = entry[capability]
    if name is None:
        return None
    return getattr(importlib.import_module(entry[0]), name)(credential, settings)


def compute_provider(
    code: str, credential: Mapping[str, str], settings: Settings
) -> ComputeProvider:
    provider: ComputeProvider = _build(code, 1, credential, settings)
    return provider


def network_provider(
    code: str, credential: Mapping[str, str], settings: Settings
) -> NetworkProvider | None:
    provider: NetworkProvider | None = _build(code, 2, credential, settings)
    return provider


def catalogue_provider(
    code: str, credential: Mapping[str, str], settings: Settings
) -> CatalogueProvider:
    provider: CatalogueProvider = _build(code, 3, credential, settings)
    return provider

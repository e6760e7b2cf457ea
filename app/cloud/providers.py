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


def _build(module: str, name: str, credential: Mapping[str, str], settings: Settings) -> Any:
    """An instance of class `name` of `module`, imported on first use."""
    return getattr(importlib.import_module(module), name)(credential, settings)


def compute_provider(
    code: str, credential: Mapping[str, str], settings: Settings
) -> ComputeProvider:
    module, compute, _, _ = PROVIDERS[code]
    provider: ComputeProvider = _build(module, compute, credential, settings)
    return provider


def network_provider(
    code: str, credential: Mapping[str, str], settings: Settings
) -> NetworkProvider | None:
    module, _, networks, _ = PROVIDERS[code]
    if networks is None:
        return None
    provider: NetworkProvider = _build(module, networks, credential, settings)
    return provider


def catalogue_provider(
    code: str, credential: Mapping[str, str], settings: Settings
) -> CatalogueProvider:
    module, _, _, catalogue = PROVIDERS[code]
    provider: CatalogueProvider = _build(module, catalogue, credential, settings)
    return provider

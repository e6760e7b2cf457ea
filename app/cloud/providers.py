"""`cloud_service_code` -> the provider classes (imported on first use: each pulls in its
provider's client library)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from app.cloud.base import ComputeProvider, NetworkProvider
from app.core.settings import Settings

# code -> (module, compute class, network class or None)
PROVIDERS: dict[str, tuple[str, str, str | None]] = {
    "aws-ec2": ("app.cloud.aws", "AwsCompute", "AwsNetworks"),
    "digitalocean-droplet": ("app.cloud.digitalocean", "DigitalOceanCompute",
                             "DigitalOceanNetworks"),
    "hetzner-hcloud": ("app.cloud.hetzner", "HetznerCompute", "HetznerNetworks"),
    "gcp-gce": ("app.cloud.gcp", "GcpCompute", "GcpNetworks"),
    "azure-rm": ("app.cloud.azure", "AzureCompute", "AzureNetworks"),
}


def is_cloud(code: str) -> bool:
    return code in PROVIDERS


def compute_provider(
    code: str, credential: Mapping[str, str], settings: Settings
) -> ComputeProvider:
    module, compute, _ = PROVIDERS[code]
    cls = getattr(importlib.import_module(module), compute)
    provider: ComputeProvider = cls(credential, settings)
    return provider


def network_provider(
    code: str, credential: Mapping[str, str], settings: Settings
) -> NetworkProvider | None:
    module, _, networks = PROVIDERS[code]
    if networks is None:
        return None
    cls = getattr(importlib.import_module(module), networks)
    provider: NetworkProvider = cls(credential, settings)
    return provider

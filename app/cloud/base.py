"""What the control plane asks of a cloud: instances (compute) and networks.

Each provider module implements `ComputeProvider` and, where the provider has networks,
`NetworkProvider`, with the provider's maintained client (boto3, hcloud,
google-cloud-compute, the Azure SDK; httpx for DigitalOcean). Blocking clients run in a
thread (`asyncio.to_thread`). Endpoints come from `Settings` so tests point the same
client code at a local stand-in (or moto for AWS).

Errors: `CredentialRejected` (the provider refused the credential), `QuotaExceeded`
(a limit or quota of the account), `InstanceNotFound`, else `CloudError` with a message a
user can act on. Never let a client library's own exception escape.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.credentials.providers.base import CredentialRejected

__all__ = [
    "HOURS_PER_MONTH", "CatalogueProvider", "CloudError", "ComputeProvider",
    "CredentialRejected", "Instance", "InstanceNotFound", "InstanceSpec", "InstanceTypeInfo",
    "NetworkProvider", "NetworkRef", "NetworkSpec", "Price", "QuotaExceeded", "RegionInfo",
    "SubnetSpec",
]

# What providers that bill by the hour quote as a month (AWS, Azure and Google all use 730).
HOURS_PER_MONTH = 730


class CloudError(Exception):
    """The provider failed or answered something unexpected; the message says what."""


class QuotaExceeded(CloudError):
    """An account limit or quota stops the request (instances, cores, IPs...)."""


class InstanceNotFound(CloudError):
    pass


@dataclass(frozen=True)
class InstanceSpec:
    name: str  # the server's hostname; also the instance's name/tag
    region: str  # the reference's region code for this provider (e.g. us-east-1, nyc1, fsn1)
    instance_type: str  # the reference's instance type code (t3.micro, s-1vcpu-1gb, cx22...)
    storage_size_gb: int
    os_version_code: str  # e.g. "ubuntu_24_04": map it to the provider's image
    ssh_public_key: str  # OpenSSH line, authorised for `ssh_user` at first boot
    ssh_user: str = "root"  # the user the control plane logs in as
    network_id: str | None = None  # provider id of the network (VPC...) to place it in
    subnet_id: str | None = None  # provider id of the subnet
    zone: str | None = None  # availability zone when the provider needs one
    tags: Mapping[str, str] = field(default_factory=dict)  # e.g. {"devopness-server-id": "12"}


@dataclass(frozen=True)
class Instance:
    id: str  # provider id (what destroy/start/stop take)
    status: str  # normalised: "pending", "running", "stopping", "stopped", "terminated"
    public_ip: str | None = None
    private_ip: str | None = None
    provider_status: str = ""  # the provider's own word for it
    # Ids of what was created with it (disks, boot key, IPs), for cleanup and destroy.
    extra: Mapping[str, str] = field(default_factory=dict)


class ComputeProvider(ABC):
    """Instances of one account (credential), one provider."""

    @abstractmethod
    async def create_instance(self, spec: InstanceSpec) -> Instance:
        """Ask for the instance; returns at once (status usually "pending"). Must not leave
        anything billable behind when it raises (clean up what it created)."""

    @abstractmethod
    async def get_instance(self, instance_id: str) -> Instance:
        """Current state; raises InstanceNotFound when it no longer exists."""

    @abstractmethod
    async def start_instance(self, instance_id: str) -> None: ...

    @abstractmethod
    async def stop_instance(self, instance_id: str) -> None: ...

    @abstractmethod
    async def reboot_instance(self, instance_id: str) -> None: ...

    @abstractmethod
    async def destroy_instance(self, instance_id: str, *, destroy_disks: bool) -> None:
        """Delete the instance (and its disks when asked, else keep them). Succeeds when
        it is already gone."""


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    region: str
    cidr_block: str | None  # e.g. 10.0.0.0/16 (None: the provider's default, where allowed)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubnetSpec:
    name: str
    network_id: str  # provider id of the network
    region: str
    cidr_block: str
    zone: str | None = None
    public: bool = True  # instances get public addresses (AWS: map public IP; route to IGW)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkRef:
    id: str
    status: str  # normalised: "pending", "available", "deleted"
    provider_status: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


class NetworkProvider(ABC):
    @abstractmethod
    async def create_network(self, spec: NetworkSpec) -> NetworkRef: ...

    @abstractmethod
    async def get_network(self, network_id: str) -> NetworkRef:
        """Raises CloudError when it does not exist."""

    @abstractmethod
    async def delete_network(self, network_id: str) -> None:
        """Succeeds when it is already gone."""

    @abstractmethod
    async def create_subnet(self, spec: SubnetSpec) -> NetworkRef: ...

    @abstractmethod
    async def delete_subnet(self, network_id: str, subnet_id: str) -> None: ...


@dataclass(frozen=True)
class RegionInfo:
    code: str  # the provider's region code, as servers are created with (us-east-1, nyc1...)
    name: str  # what a person reads ("US East (N. Virginia)"); the code when unknown
    zones: tuple[str, ...] = ()  # availability zones, where the provider has them


@dataclass(frozen=True)
class Price:
    hourly: float
    monthly: float
    currency: str  # ISO 4217 (USD, EUR)


@dataclass(frozen=True)
class InstanceTypeInfo:
    type: str  # the code servers are created with (t3.micro, s-1vcpu-1gb, cx22, e2-small...)
    family: str  # how the provider groups it (t3, Basic, Shared vCPU, E2...)
    architecture: str | None  # "x86_64" or "arm64"
    vcpus: int
    memory_mb: int
    default_disk_size_gb: int  # the disk that comes with the type (0: chosen at creation)
    # Where the account can order it: region code -> the on-demand Linux price there, or
    # None where the provider offers it but its API told us no price.
    regions: Mapping[str, Price | None]


class CatalogueProvider(ABC):
    """What an account can order: regions and instance types with their prices, read from
    the provider by the catalogue refresh command (`devopness-server catalogue-refresh`)."""

    @abstractmethod
    async def list_regions(self) -> list[RegionInfo]:
        """The regions this account can create instances in."""

    @abstractmethod
    async def list_instance_types(self, regions: Sequence[str]) -> list[InstanceTypeInfo]:
        """Every instance type offered in at least one of `regions` (codes from
        `list_regions`), each with the regions among them that offer it and the price
        there. Types that cannot run an Ubuntu server (GPU-only images, bare metal the
        provider sells separately) may be left out; say which in the module docstring."""

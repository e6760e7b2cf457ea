"""What every Azure capability shares: the service-principal credential, the management
clients, naming, tags and error translation."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.core.polling import LROPoller
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from app.cloud.base import CloudError, CredentialRejected, InstanceNotFound, QuotaExceeded
from app.core.settings import Settings

# Tokens are always for Azure Resource Manager, wherever the endpoint points.
SCOPE = "https://management.azure.com/.default"
GROUP_PREFIX = "devopness-"
NETWORK_GROUP_PREFIX = "devopness-net-"
# Azure refuses "root" (and other reserved names) as the admin user.
FALLBACK_SSH_USER = "devopness"
_RESERVED_USERS = {"root", "admin", "administrator", "user", "guest", "test", "sys"}
# Ports the security group opens. SSH for the control plane; HTTP(S) because the servers
# host web applications, and finer rules are the server's own firewall (network rules).
OPEN_PORTS = (("ssh", 22, 1000), ("http", 80, 1010), ("https", 443, 1020))

# os_version_code -> (offer, sku) of Canonical's images, x64 and arm64.
_IMAGES = {
    "ubuntu_18_04": ("UbuntuServer", "18_04-lts-gen2"),
    "ubuntu_20_04": ("0001-com-ubuntu-server-focal", "20_04-lts-gen2"),
    "ubuntu_22_04": ("0001-com-ubuntu-server-jammy", "22_04-lts-gen2"),
    "ubuntu_24_04": ("ubuntu-24_04-lts", "server"),
    "ubuntu_26_04": ("ubuntu-26_04-lts", "server"),
}
_ARM_IMAGES = {
    "ubuntu_20_04": ("0001-com-ubuntu-server-focal", "20_04-lts-arm64"),
    "ubuntu_22_04": ("0001-com-ubuntu-server-jammy", "22_04-lts-arm64"),
    "ubuntu_24_04": ("ubuntu-24_04-lts", "server-arm64"),
    "ubuntu_26_04": ("ubuntu-26_04-lts", "server-arm64"),
}
# Ampere sizes carry a "p" among the feature letters after the vCPU count: D2ps_v5, B2pls_v2.
_ARM_SIZE = re.compile(r"^Standard_[A-Z]+\d+[a-z]*p[a-z]*_v\d+$")

_POWER = {
    "starting": "pending",
    "running": "running",
    "stopping": "stopping",
    "deallocating": "stopping",
    "stopped": "stopped",
    "deallocated": "stopped",
}
_QUOTA_CODES = {"QuotaExceeded", "PublicIPCountLimitReached", "ResourceQuotaExceeded"}
_REJECTED_CODES = {
    "AuthorizationFailed", "InvalidAuthenticationToken", "InvalidAuthenticationTokenTenant",
    "AuthenticationFailed", "SubscriptionNotFound", "LinkedAuthorizationFailed",
}

# The OS disk a server gets unless sized otherwise: Canonical's Ubuntu images are 30 GB, the
# size the azure-rm catalogue offers by default for AzureCompute's diskSizeGB.
DEFAULT_OS_DISK_GB = 30
_ARCHITECTURES = {"x64": "x86_64", "arm64": "arm64"}  # CpuArchitectureType, lowercased
# Location restrictions that keep this subscription from ordering a size there (Zone
# restrictions only narrow the zones).
_UNAVAILABLE = {"NotAvailableForSubscription", "QuotaId"}
# The Retail Prices API throttles bursts (429): a few regions at a time, a few retries.
PRICE_CONCURRENCY = 4
PRICE_RETRIES = 3
_PRICE_FILTER = ("serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
                 "and armRegionName eq '{region}'")

T = TypeVar("T")


def image_reference(os_version_code: str, size: str) -> dict[str, str]:
    images = _ARM_IMAGES if _ARM_SIZE.match(size) else _IMAGES
    found = images.get(os_version_code)
    if found is None:
        raise CloudError(f"Azure has no Canonical Ubuntu image for {os_version_code} on {size}.")
    offer, sku = found
    return {"publisher": "Canonical", "offer": offer, "sku": sku, "version": "latest"}


def resource_name(value: str, limit: int = 64) -> str:
    """A name every resource type here accepts: letters, digits and dashes."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", value).strip("-").lower()
    return (name or "server")[:limit].rstrip("-")


def parse_id(resource_id: str) -> dict[str, str]:
    """The segments of an ARM id, lowercased keys: {"resourcegroups": "rg", ...}."""
    parts = [p for p in resource_id.split("/") if p]
    return {parts[i].lower(): parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def group_and_name(
    resource_id: str, kind: str, what: str, error: type[CloudError] = CloudError
) -> tuple[str, str]:
    """The resource group and name in the id of a resource of `kind` (its lowercased
    segment in the id, e.g. `virtualmachines`)."""
    parts = parse_id(resource_id)
    group, name = parts.get("resourcegroups"), parts.get(kind)
    if not group or not name:
        raise error(f"{resource_id!r} is not an Azure {what} id.")
    return group, name


def _error_code(exc: HttpResponseError) -> str:
    if exc.error is not None and exc.error.code:
        return str(exc.error.code)
    return ""


def _error_message(exc: HttpResponseError) -> str:
    if exc.error is not None and exc.error.message:
        return str(exc.error.message)
    return str(exc.message or exc)


def translate(exc: BaseException, *, missing: type[CloudError] = CloudError) -> BaseException:
    """Our error for an Azure SDK error (never let theirs escape)."""
    if isinstance(exc, (CloudError, CredentialRejected)):
        return exc
    if isinstance(exc, ClientAuthenticationError):
        detail = _error_message(exc) if isinstance(exc, HttpResponseError) else str(exc)
        return CredentialRejected(f"Azure rejected the credential: {detail.splitlines()[0]}")
    if isinstance(exc, HttpResponseError):
        code, message = _error_code(exc), _error_message(exc)
        # Core quotas come as OperationNotAllowed with a message naming the quota.
        if code in _QUOTA_CODES or "quota" in message.lower():
            return QuotaExceeded(f"Azure quota exceeded: {message}")
        if exc.status_code in (401, 403) or code in _REJECTED_CODES:
            return CredentialRejected(f"Azure refused the request ({code or exc.status_code}): "
                                      f"{message}")
        if exc.status_code == 404 or code in {"ResourceNotFound", "ResourceGroupNotFound"}:
            return missing(f"Not found on Azure: {message}")
        if exc.status_code is not None and exc.status_code < 400:
            # A long-running operation that ended Failed: the poll itself answered 200.
            return CloudError(f"Azure could not complete the operation ({code}): {message}")
        return CloudError(f"Azure answered {exc.status_code} {code}: {message}")
    if isinstance(exc, AzureError):
        return CloudError(f"Azure could not be reached: {exc}")
    if isinstance(exc, ValueError) and "authority" in str(exc).lower():
        # MSAL's answer when the tenant's login metadata cannot be found.
        return CredentialRejected(f"Azure does not know this tenant: {exc}")
    return CloudError(f"Azure failed ({type(exc).__name__}: {exc}).")


class _GivenUp(Exception):
    """Raised in the SDK's polling thread of an operation we stopped waiting for."""


class _Azure:
    """The SDK clients for one service principal, pointed at the configured endpoints."""

    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._credential = credential
        self._settings = settings
        self.subscription_id = credential.get("subscription_id", "")
        # Bounds on waiting for one long-running operation; tests shorten them.
        self.operation_timeout = float(
            getattr(settings, "cloud_operation_timeout_seconds", 900.0)
        )
        self.polling_interval = 5.0  # when Azure sends no Retry-After
        self._token: ClientSecretCredential | None = None
        self._clients: dict[type[Any], Any] = {}

    def _identity(self) -> ClientSecretCredential:
        if self._token is None:
            try:
                self._token = ClientSecretCredential(
                    self._credential["tenant_id"],
                    self._credential["client_id"],
                    self._credential["client_secret"],
                    authority=self._settings.azure_login_url,
                    # Discovery would ask login.microsoft.com about the authority; ours is
                    # configured, so MSAL reads its metadata from it directly.
                    disable_instance_discovery=True,
                    connection_timeout=self._settings.provider_timeout_seconds,
                    read_timeout=self._settings.provider_timeout_seconds,
                )
            except (KeyError, ValueError) as exc:
                raise CredentialRejected(f"The Azure credential is incomplete: {exc}") from exc
        return self._token

    def _options(self) -> dict[str, Any]:
        if not self.subscription_id:
            raise CredentialRejected("The Azure credential has no subscription_id.")
        return {
            "base_url": self._settings.azure_management_url.rstrip("/"),
            "credential_scopes": [SCOPE],
            "polling_interval": self.polling_interval,
            "connection_timeout": self._settings.provider_timeout_seconds,
            "read_timeout": self._settings.provider_timeout_seconds,
        }

    def client(self, cls: type[T]) -> T:
        if cls not in self._clients:
            options = self._options()
            self._clients[cls] = cls(  # type: ignore[call-arg]
                self._identity(), self.subscription_id, **options)
        client: T = self._clients[cls]
        return client

    @property
    def subscriptions(self) -> SubscriptionClient:
        # Unlike the others, this client takes the subscription per call, not at construction.
        if SubscriptionClient not in self._clients:
            options = self._options()
            self._clients[SubscriptionClient] = SubscriptionClient(self._identity(), **options)
        client: SubscriptionClient = self._clients[SubscriptionClient]
        return client

    @property
    def resources(self) -> ResourceManagementClient:
        return self.client(ResourceManagementClient)

    @property
    def network(self) -> NetworkManagementClient:
        return self.client(NetworkManagementClient)

    @property
    def compute(self) -> ComputeManagementClient:
        return self.client(ComputeManagementClient)

    async def call(
        self, fn: Callable[..., T], *args: Any, missing: type[CloudError] = CloudError,
        **kwargs: Any,
    ) -> T:
        """One blocking SDK call in a thread, errors translated."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except Exception as exc:
            raise translate(exc, missing=missing) from exc

    async def run(
        self, begin: Callable[..., LROPoller[T]], *args: Any,
        missing: type[CloudError] = CloudError, **kwargs: Any,
    ) -> T:
        """Start a long-running operation and wait for it (bounded)."""
        given_up = threading.Event()

        def hook(request: Any) -> None:
            # Each of the SDK's requests for the operation (the start, every poll) passes
            # here: once the wait is given up, the SDK's polling thread stops at its next
            # poll instead of polling until the operation ends, however long that is.
            if given_up.is_set():
                raise _GivenUp

        def wait() -> tuple[bool, T]:
            poller = begin(*args, raw_request_hook=hook, **kwargs)
            try:
                result = poller.result(timeout=self.operation_timeout)
                return poller.done(), result
            finally:
                if not poller.done():
                    given_up.set()

        try:
            done, result = await asyncio.to_thread(wait)
        except Exception as exc:
            raise translate(exc, missing=missing) from exc
        if not done:
            raise CloudError(
                f"Azure did not finish {getattr(begin, '__name__', 'an operation')} within "
                f"{self.operation_timeout:.0f}s."
            )
        return result

    async def group_exists(self, group: str) -> bool:
        # A GET, not the SDK's check_existence: that is a HEAD, whose refusals carry no
        # body, so a user would not learn why (AuthorizationFailed, SubscriptionNotFound).
        def get() -> bool:
            try:
                self.resources.resource_groups.get(group)
            except ResourceNotFoundError as exc:
                if _error_code(exc) in ("ResourceGroupNotFound", ""):
                    return False
                raise
            return True

        return await self.call(get)

    async def delete_group(self, group: str) -> None:
        try:
            await self.run(self.resources.resource_groups.begin_delete, group,
                           missing=InstanceNotFound)
        except InstanceNotFound:
            return


def _tags(tags: Mapping[str, str], **more: str) -> dict[str, str]:
    # Every resource we create says so with the tag the other providers carry too.
    return {"managed-by": "devopness-server",
            **{str(k)[:512]: str(v)[:256] for k, v in tags.items()}, **more}

"""Google Compute Engine through `google-cloud-compute` (REST transport).

Ids: an instance is addressed by project, zone and name, so `Instance.id` is
"<zone>/<name>" (e.g. "us-central1-a/web-1"); a network is its name (networks are
global); a subnet is "<region>/<name>". The project comes from the service account key.

Long-running calls answer with an Operation. The library's own waiting (`ExtendedOperation`)
builds its operations client without our `client_options`, so it would poll the public
endpoint whatever we configured: we call the `*_unary` methods and poll the zone, region
or global operation ourselves with clients that share our endpoint.

Catalogue (`GcpCatalogue`): regions come from `regions.list`, machine types from one
paginated `machineTypes.aggregatedList` filtered to the zones of the asked regions (a type
is offered in a region when any of its zones lists it), and prices from the Cloud Billing
Catalog API's SKU list for Compute Engine (`services/6F81-5844-456A/skus`, paginated;
the client library has no call for it). GCE bills a machine type as its family's
per-vCPU and per-GiB on-demand SKUs of the region, so a price is composed from those;
f1-micro and g1-small have a SKU of their own, and the E2 shared-core types bill a
fraction of a vCPU. Left out: types with accelerators (GPU and TPU families, which need
their own images and quotas) and deprecated types. A price is None where the SKUs of the
family are missing or ambiguous, for shared-core types we do not know the fraction of,
and for types with bundled local SSD (billed by other SKUs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exc
from google.auth import transport as auth_transport
from google.auth.transport.requests import AuthorizedSession
from google.cloud import compute_v1
from google.oauth2 import service_account

from app.catalogue.service import zone_codes
from app.cloud.base import (
    HOURS_PER_MONTH,
    CatalogueProvider,
    CloudError,
    ComputeProvider,
    CredentialRejected,
    Instance,
    InstanceNotFound,
    InstanceSpec,
    InstanceTypeInfo,
    NetworkProvider,
    NetworkRef,
    NetworkSpec,
    Price,
    QuotaExceeded,
    RegionInfo,
    SubnetSpec,
)
from app.core import outbound
from app.core.settings import Settings

__all__ = ["GcpCatalogue", "GcpCompute", "GcpNetworks"]

SCOPE = "https://www.googleapis.com/auth/compute"
BILLING_SCOPE = "https://www.googleapis.com/auth/cloud-billing.readonly"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
# GCE's Ubuntu images let the guest agent create the users named in `ssh-keys` with
# passwordless sudo; root is not one it manages, so a root request logs in as this user.
FALLBACK_SSH_USER = "devopness"

# os_version_code -> image family in the public ubuntu-os-cloud project. From 24.04 on,
# Canonical publishes one family per architecture.
_UBUNTU_FAMILIES = {
    "ubuntu_18_04": "ubuntu-1804-lts",
    "ubuntu_20_04": "ubuntu-2004-lts",
    "ubuntu_22_04": "ubuntu-2204-lts",
    "ubuntu_24_04": "ubuntu-2404-lts-amd64",
    "ubuntu_26_04": "ubuntu-2604-lts-amd64",
}
_ARM_FAMILIES = {
    "ubuntu_20_04": "ubuntu-2004-lts-arm64",
    "ubuntu_22_04": "ubuntu-2204-lts-arm64",
    "ubuntu_24_04": "ubuntu-2404-lts-arm64",
    "ubuntu_26_04": "ubuntu-2604-lts-arm64",
}
# Ampere (T2A) and Axion (C4A, N4A) machine types boot arm64 images only.
_ARM_MACHINE_PREFIXES = ("t2a-", "c4a-", "n4a-")

_STATUS = {
    "PROVISIONING": "pending",
    "STAGING": "pending",
    "REPAIRING": "pending",
    "RUNNING": "running",
    "STOPPING": "stopping",
    "SUSPENDING": "stopping",
    # GCE's TERMINATED is a stopped instance that still exists (and can be started).
    "TERMINATED": "stopped",
    "STOPPED": "stopped",
    "SUSPENDED": "stopped",
}

_QUOTA_CODES = {"QUOTA_EXCEEDED", "quotaExceeded", "limitExceeded"}
_RATE_CODES = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}
_DISABLED_CODES = {"accessNotConfigured", "SERVICE_DISABLED"}
_NO_A_ZONE = {"us-east1", "europe-west1"}

T = TypeVar("T")


def image_family(os_version_code: str, machine_type: str) -> str:
    families = _ARM_FAMILIES if machine_type.startswith(_ARM_MACHINE_PREFIXES) else _UBUNTU_FAMILIES
    family = families.get(os_version_code)
    if family is None:
        raise CloudError(f"Google Compute Engine has no Ubuntu image for {os_version_code}.")
    return f"projects/ubuntu-os-cloud/global/images/family/{family}"


def default_zone(region: str) -> str:
    """The first zone the catalogue lists for the region; not every region has an "-a"
    zone (us-east1 and europe-west1 start at "-b")."""
    zones = sorted(zone_codes("gcp-gce", region))
    if zones:
        return zones[0]
    return f"{region}-b" if region in _NO_A_ZONE else f"{region}-a"


def resource_name(value: str) -> str:
    """A valid GCE name (RFC 1035: lowercase letters, digits, dashes; 63 at most)."""
    name = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"d-{name}"
    return name[:63].rstrip("-")


def labels(tags: Mapping[str, str]) -> dict[str, str]:
    """GCE labels accept lowercase letters, digits, `_` and `-` only (63 chars each)."""
    result: dict[str, str] = {}
    for key, value in tags.items():
        k = re.sub(r"[^a-z0-9_-]+", "_", key.lower())[:63]
        if not k or not k[0].isalpha():
            k = f"t_{k}"[:63]
        result[k] = re.sub(r"[^a-z0-9_-]+", "_", value.lower())[:63]
    return result


def _last(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _split(composite: str, what: str) -> tuple[str, str]:
    """(zone or region, name) of an id we made; one we did not make names nothing."""
    location, sep, name = composite.partition("/")
    if not sep or not location or not name or "/" in name:
        raise InstanceNotFound(
            f"{composite!r} is not a Google Cloud {what} id (<zone or region>/<name>)."
        )
    return location, name


def _error_items(exc: gexc.GoogleAPICallError) -> list[tuple[str, str]]:
    """(code or reason, message) of each error a Google error carries (JSON dicts from
    REST answers, `Errors` messages from operations)."""
    items: list[tuple[str, str]] = []
    for item in exc.errors or []:
        if isinstance(item, Mapping):
            code = str(item.get("reason") or item.get("code") or "")
            items.append((code, str(item.get("message", ""))))
        else:
            items.append((str(getattr(item, "code", "")), str(getattr(item, "message", ""))))
    if exc.reason:
        items.append((str(exc.reason), ""))
    return items


def _message(exc: gexc.GoogleAPICallError) -> str:
    messages = [m for _, m in _error_items(exc) if m]
    return "; ".join(messages) or str(exc.message)


def translate(exc: Exception, *, missing: type[CloudError] = CloudError) -> Exception:
    """Our error for a Google library error (never let theirs escape)."""
    if isinstance(exc, (CloudError, CredentialRejected)):
        return exc
    if isinstance(exc, auth_exc.RefreshError):
        return CredentialRejected(f"Google rejected the service account key ({exc}).")
    if isinstance(exc, auth_exc.GoogleAuthError):
        return CloudError(f"Google authentication failed: {exc}")
    if isinstance(exc, gexc.GoogleAPICallError):
        items = _error_items(exc)
        message = _message(exc)
        if any(code in _DISABLED_CODES for code, _ in items):
            # A 403 too, but the key is fine: the project has to enable the API.
            return CloudError(f"A Google Cloud API is not enabled for the project: {message}")
        if any(code in _QUOTA_CODES for code, _ in items) or "quota" in message.lower():
            return QuotaExceeded(f"Google Cloud quota exceeded: {message}")
        if any(code in _RATE_CODES for code, _ in items):
            # Google answers rate limits with 403 too: not a refused credential.
            return CloudError(f"Google Cloud is rate limiting requests: {message}")
        if exc.code in (401, 403):
            return CredentialRejected(f"Google Cloud refused the request ({exc.code}): {message}")
        if exc.code == 404:
            return missing(f"Not found on Google Cloud: {message}")
        return CloudError(f"Google Cloud answered {exc.code}: {message}")
    if isinstance(exc, gexc.GoogleAPIError):
        return CloudError(f"Google Cloud failed: {exc}")
    return CloudError(f"Google Cloud could not be reached ({type(exc).__name__}: {exc}).")


class _TokenResponse(auth_transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return dict(self._response.headers)

    @property
    def data(self) -> bytes:
        return self._response.content


class _PolicyRequest(auth_transport.Request):
    """google-auth's token requests to a key's own token_uri (the user's choice), sent
    through the outbound policy: checked, and connected to the address checked."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __call__(
        self, url: str, method: str = "GET", body: Any = None,
        headers: Mapping[str, str] | None = None, timeout: float | None = None,
        **kwargs: Any,
    ) -> _TokenResponse:
        try:
            with outbound.sync_client(
                self._settings, timeout=timeout or self._settings.provider_timeout_seconds
            ) as http:
                response = http.request(method, url, content=body, headers=headers)
        except outbound.OutboundRefused as exc:
            raise auth_exc.TransportError(f"the key's token_uri is refused: {exc}") from exc  # type: ignore[no-untyped-call]
        except httpx.HTTPError as exc:
            raise auth_exc.TransportError(type(exc).__name__) from exc  # type: ignore[no-untyped-call]
        return _TokenResponse(response)


def _credentials_class(request: _PolicyRequest) -> type[service_account.Credentials]:
    # A class, not an attribute: google-auth copies credentials (`with_scopes`) through
    # `self.__class__(...)`, and each copy must keep refreshing through the policy.
    class PolicyCredentials(service_account.Credentials):
        def refresh(self, _request: Any) -> None:
            super().refresh(request)  # type: ignore[no-untyped-call]

    return PolicyCredentials


class _Gcp:
    """Clients for one service account, all pointed at the configured endpoint."""

    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._credential = credential
        self._settings = settings
        self._timeout = settings.provider_timeout_seconds
        # Bounds how long one long-running operation is waited for; tests shorten it.
        self.operation_timeout = float(
            getattr(settings, "cloud_operation_timeout_seconds", 300.0)
        )
        self.poll_interval = 2.0
        self._creds: service_account.Credentials | None = None
        self._project = ""
        self._clients: dict[type[Any], Any] = {}

    # ------------------------------------------------------------------ plumbing

    def _credentials(self) -> service_account.Credentials:
        if self._creds is None:
            try:
                info = json.loads(self._credential["service_account_key"])
                self._project = str(info["project_id"])
                # The operator's token endpoint is trusted; a key's own is the user's.
                cls = service_account.Credentials
                token_uri = self._settings.gcp_token_url
                if not token_uri:
                    token_uri = str(info.get("token_uri") or DEFAULT_TOKEN_URI)
                    cls = _credentials_class(_PolicyRequest(self._settings))
                self._creds = cls.from_service_account_info(  # type: ignore[no-untyped-call]
                    {**info, "token_uri": token_uri}, scopes=[SCOPE]
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise CredentialRejected(
                    "The Google service account key is not a valid JSON key."
                ) from exc
        return self._creds

    @property
    def project(self) -> str:
        self._credentials()
        return self._project

    def _endpoint(self) -> str:
        # The client appends "/compute/v1/..." to the host, which may carry a scheme and
        # a path prefix (a stand-in), so strip that suffix from the configured URL.
        url = self._settings.gcp_compute_url.rstrip("/")
        if url.endswith("/compute/v1"):
            url = url[: -len("/compute/v1")]
        if not urlsplit(url).scheme:
            url = f"https://{url}"
        return url

    def client(self, cls: type[T]) -> T:
        if cls not in self._clients:
            self._clients[cls] = cls(  # type: ignore[call-arg]
                credentials=self._credentials(),
                transport="rest",
                client_options=ClientOptions(api_endpoint=self._endpoint()),
            )
        client: T = self._clients[cls]
        return client

    def session(self, scope: str) -> AuthorizedSession:
        """Plain HTTP to a Google API the client library does not cover; the caller
        closes it."""
        credentials = self._credentials().with_scopes([scope])
        return AuthorizedSession(  # type: ignore[no-untyped-call]
            credentials, refresh_timeout=self._timeout
        )

    async def call(
        self, fn: Callable[..., T], *, missing: type[CloudError] = CloudError, **kwargs: Any
    ) -> T:
        """Run one blocking client call in a thread, errors translated."""
        def run() -> T:
            return fn(timeout=self._timeout, **kwargs)

        try:
            return await asyncio.to_thread(run)
        except Exception as exc:
            raise translate(exc, missing=missing) from exc

    async def wait(
        self, operation: compute_v1.Operation, *, missing: type[CloudError] = CloudError
    ) -> compute_v1.Operation:
        """Poll the operation until DONE (bounded), then raise its error if it has one."""
        deadline = time.monotonic() + self.operation_timeout
        delay = self.poll_interval
        while operation.status != compute_v1.Operation.Status.DONE:
            if time.monotonic() >= deadline:
                raise CloudError(
                    f"Google Cloud operation {operation.name} ({operation.operation_type}) "
                    f"did not finish within {self.operation_timeout:.0f}s."
                )
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, 10.0)
            operation = await self._refresh(operation, missing=missing)
        if operation.error and operation.error.errors:
            raise _operation_error(operation, missing)
        return operation

    async def _refresh(
        self, operation: compute_v1.Operation, *, missing: type[CloudError]
    ) -> compute_v1.Operation:
        if operation.zone:
            return await self.call(
                self.client(compute_v1.ZoneOperationsClient).get, missing=missing,
                project=self.project, zone=_last(operation.zone), operation=operation.name,
            )
        if operation.region:
            return await self.call(
                self.client(compute_v1.RegionOperationsClient).get, missing=missing,
                project=self.project, region=_last(operation.region), operation=operation.name,
            )
        return await self.call(
            self.client(compute_v1.GlobalOperationsClient).get, missing=missing,
            project=self.project, operation=operation.name,
        )


def _operation_error(operation: compute_v1.Operation, missing: type[CloudError]) -> Exception:
    errors = list(operation.error.errors)
    codes = {e.code for e in errors}
    message = "; ".join(e.message for e in errors if e.message) or operation.http_error_message
    if codes & _QUOTA_CODES or "quota" in message.lower():
        return QuotaExceeded(f"Google Cloud quota exceeded: {message}")
    status = operation.http_error_status_code
    if status in (401,) or (status == 403 and codes & {"PERMISSION_DENIED", "FORBIDDEN"}):
        return CredentialRejected(f"Google Cloud refused the request ({status}): {message}")
    if status == 404 or "RESOURCE_NOT_FOUND" in codes:
        return missing(f"Not found on Google Cloud: {message}")
    return CloudError(f"Google Cloud operation {operation.operation_type} failed: {message}")


def _instance(zone: str, raw: compute_v1.Instance, ssh_user: str | None = None) -> Instance:
    public_ip = private_ip = None
    for nic in raw.network_interfaces:
        private_ip = private_ip or (nic.network_i_p or None)
        for access in nic.access_configs:
            public_ip = public_ip or (access.nat_i_p or None)
    extra = {"zone": zone, "instance_id": str(raw.id) if raw.id else ""}
    for disk in raw.disks:
        if disk.boot and disk.source:
            extra["boot_disk"] = _last(disk.source)
    if ssh_user is None:
        ssh_user = raw.labels.get("devopness-ssh-user") if raw.labels else None
    if ssh_user:
        extra["ssh_user"] = ssh_user
    return Instance(
        id=f"{zone}/{raw.name}",
        status=_STATUS.get(raw.status, "pending"),
        public_ip=public_ip,
        private_ip=private_ip,
        provider_status=raw.status,
        extra=extra,
    )


class GcpCompute(ComputeProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.gcp = _Gcp(credential, settings)

    @property
    def _instances(self) -> compute_v1.InstancesClient:
        return self.gcp.client(compute_v1.InstancesClient)

    def _body(self, spec: InstanceSpec, zone: str, name: str, user: str) -> compute_v1.Instance:
        region = zone.rsplit("-", 1)[0]
        nic = compute_v1.NetworkInterface(
            access_configs=[compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")]
        )
        if spec.network_id:
            nic.network = _network_path(spec.network_id)
        if spec.subnet_id:
            nic.subnetwork = _subnet_path(spec.subnet_id, region)
        if not spec.network_id and not spec.subnet_id:
            nic.network = "global/networks/default"
        tags = {**labels(spec.tags), "devopness-ssh-user": resource_name(user)}
        return compute_v1.Instance(
            name=name,
            machine_type=f"zones/{zone}/machineTypes/{spec.instance_type}",
            disks=[
                compute_v1.AttachedDisk(
                    boot=True,
                    auto_delete=True,
                    device_name=name,
                    initialize_params=compute_v1.AttachedDiskInitializeParams(
                        source_image=image_family(spec.os_version_code, spec.instance_type),
                        disk_size_gb=spec.storage_size_gb,
                        disk_name=name,
                    ),
                )
            ],
            network_interfaces=[nic],
            metadata=compute_v1.Metadata(
                items=[compute_v1.Items(key="ssh-keys",
                                        value=f"{user}:{spec.ssh_public_key.strip()}")]
            ),
            labels=tags,
        )

    async def create_instance(self, spec: InstanceSpec) -> Instance:
        zone = spec.zone or default_zone(spec.region)
        name = resource_name(spec.name)
        user = FALLBACK_SSH_USER if spec.ssh_user == "root" else spec.ssh_user
        body = self._body(spec, zone, name, user)
        operation = await self.gcp.call(
            self._instances.insert_unary,
            project=self.gcp.project, zone=zone, instance_resource=body,
        )
        try:
            await self.gcp.wait(operation)
            raw = await self.gcp.call(
                self._instances.get, missing=InstanceNotFound,
                project=self.gcp.project, zone=zone, instance=name,
            )
        except BaseException:
            # The insert was accepted: whatever it made must not outlive the failure.
            await self._cleanup(zone, name)
            raise
        return _instance(zone, raw, user)

    async def _cleanup(self, zone: str, name: str) -> None:
        # The original error is what the caller needs; a cleanup error would hide it.
        with contextlib.suppress(CloudError, CredentialRejected):
            await self.destroy_instance(f"{zone}/{name}", destroy_disks=True)

    async def get_instance(self, instance_id: str) -> Instance:
        zone, name = _split(instance_id, "instance")
        raw = await self.gcp.call(
            self._instances.get, missing=InstanceNotFound,
            project=self.gcp.project, zone=zone, instance=name,
        )
        return _instance(zone, raw)

    async def _act(self, method: str, instance_id: str) -> None:
        zone, name = _split(instance_id, "instance")
        operation = await self.gcp.call(
            getattr(self._instances, f"{method}_unary"), missing=InstanceNotFound,
            project=self.gcp.project, zone=zone, instance=name,
        )
        await self.gcp.wait(operation, missing=InstanceNotFound)

    async def start_instance(self, instance_id: str) -> None:
        await self._act("start", instance_id)

    async def stop_instance(self, instance_id: str) -> None:
        await self._act("stop", instance_id)

    async def reboot_instance(self, instance_id: str) -> None:
        # GCE's reset is a hard reset (like pressing the reset button); there is no
        # guest-cooperative reboot in the API.
        await self._act("reset", instance_id)

    async def destroy_instance(self, instance_id: str, *, destroy_disks: bool) -> None:
        zone, name = _split(instance_id, "instance")
        project = self.gcp.project
        try:
            if not destroy_disks:
                raw = await self.gcp.call(
                    self._instances.get, missing=InstanceNotFound,
                    project=project, zone=zone, instance=name,
                )
                for disk in raw.disks:
                    if disk.auto_delete:
                        operation = await self.gcp.call(
                            self._instances.set_disk_auto_delete_unary,
                            missing=InstanceNotFound, project=project, zone=zone,
                            instance=name, auto_delete=False, device_name=disk.device_name,
                        )
                        await self.gcp.wait(operation, missing=InstanceNotFound)
            operation = await self.gcp.call(
                self._instances.delete_unary, missing=InstanceNotFound,
                project=project, zone=zone, instance=name,
            )
            await self.gcp.wait(operation, missing=InstanceNotFound)
        except InstanceNotFound:
            return


def _network_path(network_id: str) -> str:
    return network_id if "/" in network_id else f"global/networks/{network_id}"


def _subnet_path(subnet_id: str, region: str) -> str:
    if subnet_id.count("/") == 1:
        subnet_region, name = subnet_id.split("/")
        return f"regions/{subnet_region}/subnetworks/{name}"
    if "/" in subnet_id:
        return subnet_id
    return f"regions/{region}/subnetworks/{subnet_id}"


def _subnet_ref_from_url(url: str) -> tuple[str, str] | None:
    match = re.search(r"regions/([^/]+)/subnetworks/([^/]+)$", url)
    return (match.group(1), match.group(2)) if match else None


class GcpNetworks(NetworkProvider):
    """VPC networks in custom-subnet mode, and their regional subnetworks. GCE networks
    have no address range of their own (subnets do), so `cidr_block` of a network is
    not used; networks take no labels either."""

    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.gcp = _Gcp(credential, settings)

    @property
    def _networks(self) -> compute_v1.NetworksClient:
        return self.gcp.client(compute_v1.NetworksClient)

    @property
    def _subnets(self) -> compute_v1.SubnetworksClient:
        return self.gcp.client(compute_v1.SubnetworksClient)

    async def create_network(self, spec: NetworkSpec) -> NetworkRef:
        name = resource_name(spec.name)
        body = compute_v1.Network(
            name=name,
            auto_create_subnetworks=False,
            routing_config=compute_v1.NetworkRoutingConfig(routing_mode="REGIONAL"),
            description=_describe(spec.tags),
        )
        operation = await self.gcp.call(
            self._networks.insert_unary, project=self.gcp.project, network_resource=body
        )
        try:
            await self.gcp.wait(operation)
        except BaseException:
            await self._quiet(self.delete_network(name))
            raise
        return await self.get_network(name)

    async def get_network(self, network_id: str) -> NetworkRef:
        raw = await self.gcp.call(
            self._networks.get, project=self.gcp.project, network=_last(network_id)
        )
        return NetworkRef(
            id=raw.name, status="available", provider_status="READY",
            extra={"self_link": raw.self_link,
                   "subnetworks": ",".join(_last(s) for s in raw.subnetworks)},
        )

    async def delete_network(self, network_id: str) -> None:
        name = _last(network_id)
        try:
            raw = await self.gcp.call(
                self._networks.get, missing=InstanceNotFound,
                project=self.gcp.project, network=name,
            )
            # A network with subnetworks cannot be deleted: remove ours first.
            for url in raw.subnetworks:
                ref = _subnet_ref_from_url(url)
                if ref:
                    await self.delete_subnet(name, f"{ref[0]}/{ref[1]}")
            operation = await self.gcp.call(
                self._networks.delete_unary, missing=InstanceNotFound,
                project=self.gcp.project, network=name,
            )
            await self.gcp.wait(operation, missing=InstanceNotFound)
        except InstanceNotFound:
            return

    async def create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        name = resource_name(spec.name)
        body = compute_v1.Subnetwork(
            name=name,
            network=_network_path(spec.network_id),
            ip_cidr_range=spec.cidr_block,
            region=spec.region,
            description=_describe(spec.tags),
        )
        operation = await self.gcp.call(
            self._subnets.insert_unary,
            project=self.gcp.project, region=spec.region, subnetwork_resource=body,
        )
        subnet_id = f"{spec.region}/{name}"
        try:
            await self.gcp.wait(operation)
            raw = await self.gcp.call(
                self._subnets.get, project=self.gcp.project, region=spec.region, subnetwork=name
            )
        except BaseException:
            await self._quiet(self.delete_subnet(spec.network_id, subnet_id))
            raise
        return NetworkRef(
            id=subnet_id, status="available", provider_status=raw.state or "READY",
            extra={"cidr_block": raw.ip_cidr_range, "network": _last(raw.network),
                   "gateway": raw.gateway_address},
        )

    async def delete_subnet(self, network_id: str, subnet_id: str) -> None:
        region, name = _split(subnet_id, "subnet")
        try:
            operation = await self.gcp.call(
                self._subnets.delete_unary, missing=InstanceNotFound,
                project=self.gcp.project, region=region, subnetwork=name,
            )
            await self.gcp.wait(operation, missing=InstanceNotFound)
        except InstanceNotFound:
            return

    @staticmethod
    async def _quiet(cleanup: Awaitable[None]) -> None:
        # The original error is what the caller needs; a cleanup error would hide it.
        with contextlib.suppress(CloudError, CredentialRejected):
            await cleanup


def _describe(tags: Mapping[str, str]) -> str:
    """Networks take no labels: the tags go in the description instead."""
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))[:2048]


# ---------------------------------------------------------------------- catalogue

# The Cloud Billing Catalog's id of the Compute Engine service.
COMPUTE_ENGINE_SERVICE = "6F81-5844-456A"
# Our create sizes the boot disk from the request; the catalogue offers the smallest disk
# the Ubuntu images fit (the storage minimum of gcp-gce.json).
DEFAULT_DISK_SIZE_GB = 10
# The aggregated list's page (the API's maximum) and the SKU list's (the Billing API's).
_MACHINE_TYPE_PAGE = 500
_SKU_PAGE = 5000
# GPU families whose types may carry their GPUs without listing them as accelerators.
_GPU_FAMILIES = {"a2", "a3", "a4", "a4x", "g2", "g4"}
_RETIRED = {"DEPRECATED", "OBSOLETE", "DELETED"}
# E2 shared-core types bill this fraction of an E2 vCPU (the API reports 2 vCPUs, what
# they may burst to).
_E2_SHARED_VCPUS = {"e2-micro": 0.25, "e2-small": 0.5, "e2-medium": 1.0}
# f1-micro and g1-small are billed per instance hour by a SKU of their own.
_INSTANCE_SKU_GROUPS = {"F1Micro": "f1-micro", "G1Small": "g1-small"}
# "<FAMILY> [qualifier] Instance Core|Ram running in <region group>": the on-demand SKUs
# of predefined types. Custom, sole-tenant, spot and commitment SKUs name something else
# before "Instance" and do not match.
_SKU_DESCRIPTION = re.compile(
    r"^(?P<family>[A-Z][A-Z0-9]*[0-9][A-Z0-9]*)"
    r"(?: (?:Predefined|AMD|Arm|Intel|Memory-optimized))? Instance (?P<kind>Core|Ram) running in ",
    re.IGNORECASE,
)
# Families whose SKUs predate the "<FAMILY> Instance" naming.
_SKU_ALIASES = {
    "Compute optimized Core running in ": ("C2", "Core"),
    "Compute optimized Ram running in ": ("C2", "Ram"),
    "Memory-optimized Instance Core running in ": ("M1", "Core"),
    "Memory-optimized Instance Ram running in ": ("M1", "Ram"),
}
# The unit a Core SKU and a Ram SKU are priced in; another unit is one we cannot compose.
_SKU_UNITS = {"Core": "h", "Ram": "GiBy.h"}
_REGION_CODE = re.compile(r"^[a-z0-9-]+$")


def _retired(raw: compute_v1.Region | compute_v1.MachineType) -> bool:
    return "deprecated" in raw and raw.deprecated.state in _RETIRED


def _family(machine_type: str) -> str:
    return machine_type.split("-", 1)[0]


def _architecture(raw: compute_v1.MachineType) -> str:
    if raw.architecture == "ARM64":
        return "arm64"
    if raw.architecture == "X86_64":
        return "x86_64"
    # Older answers leave the field out.
    return "arm64" if raw.name.startswith(_ARM_MACHINE_PREFIXES) else "x86_64"


def _sku_kind(description: str) -> tuple[str, str] | None:
    """(family upper-cased, "Core" or "Ram") of a predefined type's on-demand SKU."""
    match = _SKU_DESCRIPTION.match(description)
    if match:
        return match["family"].upper(), match["kind"].capitalize()
    for prefix, kind in _SKU_ALIASES.items():
        if description.startswith(prefix):
            return kind
    return None


def _unit_price(sku: Mapping[str, Any]) -> tuple[float, str, str] | None:
    """(price per usage unit, currency, usage unit) of the SKU's current pricing."""
    infos = sku.get("pricingInfo") or []
    if not infos:
        return None
    expression = infos[-1].get("pricingExpression") or {}
    rates = sorted(expression.get("tieredRates") or [],
                   key=lambda rate: float(rate.get("startUsageAmount") or 0))
    if not rates:
        return None
    # The last tier is what usage past any free allowance costs; on-demand instance SKUs
    # have a single tier anyway.
    price = rates[-1].get("unitPrice") or {}
    amount = int(price.get("units") or 0) + int(price.get("nanos") or 0) / 1e9
    return amount, str(price.get("currencyCode") or "USD"), str(expression.get("usageUnit", ""))


@dataclass
class _PriceBook:
    """Unit prices by (family or type, region) read from the SKU list."""

    units: dict[tuple[str, str, str], tuple[float, str]] = field(default_factory=dict)
    ambiguous: set[tuple[str, str, str]] = field(default_factory=set)

    @classmethod
    def of(cls, skus: Iterable[Mapping[str, Any]]) -> _PriceBook:
        book = cls()
        for sku in skus:
            category = sku.get("category") or {}
            if category.get("resourceFamily") != "Compute":
                continue
            if category.get("usageType") != "OnDemand":
                continue
            priced = _unit_price(sku)
            if priced is None:
                continue
            amount, currency, unit = priced
            instance = _INSTANCE_SKU_GROUPS.get(str(category.get("resourceGroup", "")))
            if instance is not None:
                key_of: tuple[str, str] | None = (instance, "Instance")
                expected = "h"
            else:
                key_of = _sku_kind(str(sku.get("description", "")))
                expected = _SKU_UNITS[key_of[1]] if key_of else ""
            if key_of is None or unit != expected:
                continue
            for region in sku.get("serviceRegions") or []:
                book.add((key_of[0], key_of[1], str(region)), amount, currency)
        return book

    def add(self, key: tuple[str, str, str], amount: float, currency: str) -> None:
        known = self.units.setdefault(key, (amount, currency))
        if known != (amount, currency):
            # Two SKUs claim the same component: guessing would misprice.
            self.ambiguous.add(key)

    def _get(self, name: str, kind: str, region: str) -> tuple[float, str] | None:
        key = (name, kind, region)
        return None if key in self.ambiguous else self.units.get(key)

    def price(self, shape: _Shape, region: str) -> Price | None:
        whole = self._get(shape.type, "Instance", region)
        if whole is not None:
            return _price(whole[0], whole[1])
        if shape.local_ssd:
            return None
        vcpus: float = shape.vcpus
        if shape.shared:
            if shape.type not in _E2_SHARED_VCPUS:
                return None
            vcpus = _E2_SHARED_VCPUS[shape.type]
        family = shape.family.upper()
        core = self._get(family, "Core", region)
        ram = self._get(family, "Ram", region)
        if core is None or ram is None or core[1] != ram[1]:
            return None
        return _price(core[0] * vcpus + ram[0] * shape.memory_mb / 1024, core[1])


def _price(hourly: float, currency: str) -> Price:
    return Price(hourly=round(hourly, 6), monthly=round(hourly * HOURS_PER_MONTH, 4),
                 currency=currency)


@dataclass
class _Shape:
    type: str
    family: str
    architecture: str
    vcpus: int
    memory_mb: int
    shared: bool
    local_ssd: bool
    regions: set[str] = field(default_factory=set)


def _offered(raw: compute_v1.MachineType) -> bool:
    if raw.accelerators or _family(raw.name) in _GPU_FAMILIES:
        return False
    return not _retired(raw)


class GcpCatalogue(CatalogueProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.gcp = _Gcp(credential, settings)
        self._skus_url = (
            f"{settings.gcp_billing_url.rstrip('/')}/services/{COMPUTE_ENGINE_SERVICE}/skus"
        )

    async def list_regions(self) -> list[RegionInfo]:
        client = self.gcp.client(compute_v1.RegionsClient)

        def fetch(timeout: float, project: str) -> list[compute_v1.Region]:
            return list(client.list(project=project, timeout=timeout))

        regions = await self.gcp.call(fetch, project=self.gcp.project)
        return [
            RegionInfo(
                code=raw.name,
                # The API's description is usually the code itself.
                name=raw.description if raw.description and raw.description != raw.name
                else raw.name,
                zones=tuple(sorted(_last(zone) for zone in raw.zones)),
            )
            for raw in regions
            if not _retired(raw)
        ]

    async def list_instance_types(self, regions: Sequence[str]) -> list[InstanceTypeInfo]:
        asked = sorted({r for r in regions if _REGION_CODE.match(r)})
        if not asked:
            return []
        shapes, skus = await asyncio.gather(
            self.gcp.call(self._machine_types, project=self.gcp.project, regions=asked),
            self.gcp.call(self._skus),
        )
        book = _PriceBook.of(skus)
        return [
            InstanceTypeInfo(
                type=shape.type,
                family=shape.family.upper(),
                architecture=shape.architecture,
                vcpus=shape.vcpus,
                memory_mb=shape.memory_mb,
                default_disk_size_gb=DEFAULT_DISK_SIZE_GB,
                regions={region: book.price(shape, region) for region in sorted(shape.regions)},
            )
            for shape in sorted(shapes, key=lambda s: (s.family, s.vcpus, s.memory_mb, s.type))
        ]

    def _machine_types(self, timeout: float, project: str, regions: list[str]) -> list[_Shape]:
        """Every offered type of the regions' zones, from one aggregated listing (blocking)."""
        client = self.gcp.client(compute_v1.MachineTypesClient)
        wanted = set(regions)
        request = compute_v1.AggregatedListMachineTypesRequest(
            project=project,
            max_results=_MACHINE_TYPE_PAGE,
            # A regular-expression filter (RE2, matching the whole field) on the zone name
            # keeps the other regions' zones out of the pages.
            filter=f'zone eq "({"|".join(regions)})-[a-z0-9]+"',
        )
        shapes: dict[str, _Shape] = {}
        for scope, listed in client.aggregated_list(request=request, timeout=timeout):
            region = _last(scope).rsplit("-", 1)[0]
            if region not in wanted:
                continue
            for raw in listed.machine_types:
                if not _offered(raw):
                    continue
                shape = shapes.get(raw.name)
                if shape is None:
                    shape = shapes[raw.name] = _Shape(
                        type=raw.name,
                        family=_family(raw.name),
                        architecture=_architecture(raw),
                        vcpus=raw.guest_cpus,
                        memory_mb=raw.memory_mb,
                        shared=raw.is_shared_cpu,
                        local_ssd=bool(raw.bundled_local_ssds.partition_count)
                        if "bundled_local_ssds" in raw else False,
                    )
                shape.regions.add(region)
        return list(shapes.values())

    def _skus(self, timeout: float) -> list[dict[str, Any]]:
        """Compute Engine's on-demand compute SKUs, every page (blocking)."""
        params = {"currencyCode": "USD", "pageSize": str(_SKU_PAGE)}
        skus: list[dict[str, Any]] = []
        seen: set[str] = set()
        with self.gcp.session(BILLING_SCOPE) as session:
            while True:
                response = session.get(self._skus_url, params=params, timeout=timeout)
                if response.status_code >= 400:
                    raise gexc.from_http_response(response)  # type: ignore[no-untyped-call]
                body = response.json()
                skus.extend(
                    sku for sku in body.get("skus") or []
                    if (sku.get("category") or {}).get("resourceFamily") == "Compute"
                )
                token = body.get("nextPageToken")
                if not token:
                    return skus
                if token in seen:
                    raise CloudError("The Cloud Billing Catalog API repeated a page token.")
                seen.add(token)
                params["pageToken"] = token

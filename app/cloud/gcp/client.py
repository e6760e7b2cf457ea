"""What every Google Cloud capability shares: service-account tokens through our outbound
policy, the Compute Engine clients, naming and error translation."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping
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
from app.cloud.base import CloudError, CredentialRejected, InstanceNotFound, QuotaExceeded
from app.core import outbound
from app.core.settings import Settings

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


def _network_path(network_id: str) -> str:
    return network_id if "/" in network_id else f"global/networks/{network_id}"


def _subnet_path(subnet_id: str, region: str) -> str:
    if subnet_id.count("/") == 1:
        subnet_region, name = subnet_id.split("/")
        return f"regions/{subnet_region}/subnetworks/{name}"
    if "/" in subnet_id:
        return subnet_id
    return f"regions/{region}/subnetworks/{subnet_id}"

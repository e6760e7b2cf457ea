"""What every AWS capability shares: the boto3 session and region lookups, error translation,
tags and region-carrying ids."""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.cloud.base import CloudError, CredentialRejected, InstanceNotFound, QuotaExceeded
from app.core.settings import Settings

CANONICAL_OWNER = "099720109477"  # the AWS account Canonical publishes Ubuntu AMIs from

# os_version_code -> (release codename, version) as in Canonical's AMI names.
UBUNTU_RELEASES: dict[str, tuple[str, str]] = {
    "ubuntu_18_04": ("bionic", "18.04"),
    "ubuntu_20_04": ("focal", "20.04"),
    "ubuntu_22_04": ("jammy", "22.04"),
    "ubuntu_24_04": ("noble", "24.04"),
    "ubuntu_26_04": ("resolute", "26.04"),
}
UBUNTU_DEFAULT_USER = "ubuntu"

SSH_PORT = 22
KEY_PAIR_TAG = "devopness:key-pair"
SECURITY_GROUP_TAG = "devopness:security-group"
MANAGED_TAG = ("managed-by", "devopness-server")

_REJECTED = {
    "AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnauthorizedOperation",
    "UnrecognizedClientException", "InvalidAccessKeyId", "AccessDenied", "AccessDeniedException",
    "ExpiredToken", "RequestExpired", "MissingAuthenticationToken", "Blocked",
    "InvalidSignatureException",
}
_QUOTA = {
    "InstanceLimitExceeded", "VcpuLimitExceeded", "AddressLimitExceeded",
    "MaxSpotInstanceCountExceeded", "VolumeLimitExceeded", "ResourceLimitExceeded",
    "SecurityGroupLimitExceeded", "RulesPerSecurityGroupLimitExceeded", "VpcLimitExceeded",
    "SubnetLimitExceeded", "InternetGatewayLimitExceeded", "RouteTableLimitExceeded",
    "RouteLimitExceeded", "KeyPairLimitExceeded", "TagLimitExceeded",
}
# API throttling, not an account quota: botocore already retried it.
_NOT_QUOTA = {"RequestLimitExceeded"}
_NOT_FOUND = {"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}
_GONE_SUFFIXES = (".NotFound", ".Malformed")

# [region/]prefix-hex, as EC2 ids are (8 or 17 hex digits): "us-east-1/i-0abc...", "vpc-...".
_ID = re.compile(
    r"^(?:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)/)?(?P<id>[a-z]+-(?:[0-9a-f]{8}|[0-9a-f]{17}))$"
)

_STATUS = {
    "pending": "pending",
    "running": "running",
    "stopping": "stopping",
    "stopped": "stopped",
    # Termination has begun and cannot be undone; the instance still shows for a while.
    "shutting-down": "terminated",
    "terminated": "terminated",
}

T = TypeVar("T")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _aws_message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', '') or 'no message'}"


def _translate(exc: Exception, doing: str, suffix: str = "") -> CloudError | CredentialRejected:
    """A boto error as one of ours, with AWS's own code and message for the user."""
    if isinstance(exc, ClientError):
        code = _code(exc)
        message = f"AWS refused to {doing}: {_aws_message(exc)}{suffix}"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _REJECTED or status == 401:
            return CredentialRejected(message)
        if code in _QUOTA or (code.endswith("LimitExceeded") and code not in _NOT_QUOTA):
            return QuotaExceeded(message)
        if code in _NOT_FOUND:
            return InstanceNotFound(message)
        return CloudError(message)
    if isinstance(exc, BotoCoreError):
        return CloudError(f"AWS could not be reached to {doing}: {exc}{suffix}")
    return CloudError(f"Could not {doing}: {exc}{suffix}")


def _is_gone(exc: ClientError) -> bool:
    return _code(exc).endswith(_GONE_SUFFIXES)


def _tags(pairs: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def _tag_spec(resource: str, pairs: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": _tags(pairs)}]


def _tag_map(resource: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", []) or []}


def _resource_name(name: str) -> str:
    """`devopness-<name>-<random>`: unique, readable in the console, valid as a key pair
    and security group name (which must not start with `sg-`)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:100] or "server"
    return f"devopness-{safe}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class AwsId:
    region: str | None
    id: str

    @classmethod
    def parse(cls, value: str, what: str) -> AwsId:
        match = _ID.match(value.strip())
        if not match:
            raise CloudError(f"{value!r} is not an AWS {what} id.")
        return cls(match["region"], match["id"])


class _Aws:
    """One credential's boto3 clients, one per region, created once (clients are
    thread-safe; a boto3 session is not, so it is only used under the lock)."""

    # How long to wait for a terminated instance to release its security group.
    termination_delay_seconds: float = 5
    termination_max_attempts: int = 60
    # DependencyViolation while the instance's network interface is still being removed.
    release_retries: int = 6
    release_delay_seconds: float = 5

    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._credential = dict(credential)
        self._settings = settings
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}

    @property
    def default_region(self) -> str:
        return self._credential.get("region") or self._settings.aws_default_region

    def client(self, region: str) -> Any:
        """The EC2 client of `region`."""
        return self.service_client("ec2", region, self._settings.aws_endpoint_url)

    def service_client(self, service: str, region: str, endpoint_url: str | None) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                if self._session is None:
                    self._session = boto3.session.Session(
                        aws_access_key_id=self._credential.get("access_key_id"),
                        aws_secret_access_key=self._credential.get("secret_access_key"),
                        aws_session_token=self._credential.get("session_token") or None,
                    )
                timeout = self._settings.provider_timeout_seconds
                self._clients[key] = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=endpoint_url,
                    config=Config(
                        connect_timeout=timeout,
                        read_timeout=max(timeout, 30),
                        retries={"max_attempts": 4, "mode": "standard"},
                        user_agent_extra="devopness-server",
                    ),
                )
            return self._clients[key]

    async def _run(self, doing: str, fn: Callable[[], T]) -> T:
        """Run blocking boto3 work in a thread; only our own errors come out."""
        try:
            return await asyncio.to_thread(fn)
        except (CloudError, CredentialRejected):
            raise
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, doing) from exc

    def _regions(self) -> list[str]:
        answer = self.client(self.default_region).describe_regions()
        return [r["RegionName"] for r in answer.get("Regions", [])]

    def _locate(self, aws_id: AwsId, probe: Callable[[Any], bool]) -> str | None:
        """The region where `probe` finds the id: the id's own region, or for a bare id
        the default region first, then every other enabled one."""
        if aws_id.region:
            return aws_id.region if probe(self.client(aws_id.region)) else None
        first = self.default_region
        if probe(self.client(first)):
            return first
        for region in self._regions():
            if region != first and probe(self.client(region)):
                return region
        return None

    def _retry_dependency(self, fn: Callable[[], object]) -> None:
        """Deleting a security group or VPC fails with DependencyViolation for a while
        after what used it went away; try again a bounded number of times."""
        for attempt in range(self.release_retries + 1):
            try:
                fn()
                return
            except ClientError as exc:
                if _is_gone(exc):
                    return
                if _code(exc) != "DependencyViolation" or attempt == self.release_retries:
                    raise
            time.sleep(self.release_delay_seconds)

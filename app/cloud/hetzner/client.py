"""What every Hetzner Cloud capability shares: the `hcloud` client run in a worker thread,
labels and error translation."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

import requests
from hcloud import APIException, Client, HCloudException
from hcloud.actions import ActionException

from app.cloud.base import CloudError, CredentialRejected, QuotaExceeded
from app.core.settings import Settings

T = TypeVar("T")

KEY_NAME_PREFIX = "devopness-"
KEY_LABEL = "devopness-ssh-key"
DEFAULT_NETWORK_RANGE = "10.0.0.0/16"

NETWORK_ZONES = {
    "fsn1": "eu-central", "nbg1": "eu-central", "hel1": "eu-central",
    "ash": "us-east", "hil": "us-west", "sin": "ap-southeast",
}

_STATUS = {
    "initializing": "pending", "starting": "pending", "running": "running",
    "stopping": "stopping", "off": "stopped", "deleting": "terminated",
}

_REJECTED = {"unauthorized", "forbidden", "token_readonly"}
_LIMITS = {"resource_limit_exceeded", "rate_limit_exceeded"}


class _Missing(CloudError):
    """not_found from Hetzner; each caller says what was missing."""


def image_name(os_version_code: str) -> str:
    match = re.fullmatch(r"ubuntu_(\d{2})_(\d{2})", os_version_code)
    if not match:
        raise CloudError(f"Hetzner Cloud has no image for the OS version {os_version_code!r}.")
    return f"ubuntu-{match[1]}.{match[2]}"


def network_zone(region: str) -> str:
    location = region.split("-dc")[0]  # "fsn1-dc14" is a datacenter of fsn1
    if location in NETWORK_ZONES:
        return NETWORK_ZONES[location]
    if region in NETWORK_ZONES.values():
        return region
    raise CloudError(f"Hetzner Cloud has no network zone for the region {region!r}.")


def _label(value: str) -> str:
    # Alphanumerics, '-', '_' and '.', starting and ending alphanumeric, up to 63.
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", value)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)


def _labels(tags: Mapping[str, str]) -> dict[str, str]:
    return {_label(k): _label(v) for k, v in tags.items() if _label(k)}


def _translate(exc: Exception) -> CloudError | CredentialRejected:
    if isinstance(exc, APIException):
        code, message = exc.code, exc.message
        if code in _REJECTED or code == 401:
            return CredentialRejected(f"Hetzner Cloud rejected the API token: {message}")
        if code in _LIMITS:
            return QuotaExceeded(f"Hetzner Cloud: {message}")
        if code in ("not_found", 404):
            return _Missing(message)
        return CloudError(f"Hetzner Cloud answered {code}: {message}")
    if isinstance(exc, ActionException):
        return CloudError(f"Hetzner Cloud: {exc.message}")
    if isinstance(exc, requests.RequestException):
        return CloudError(f"Hetzner Cloud could not be reached ({type(exc).__name__}).")
    return CloudError(f"Hetzner Cloud client failed: {exc}")


class _Hcloud:
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._token = credential.get("api_token", "")
        self._endpoint = settings.hetzner_api_url.rstrip("/")
        self._timeout = settings.provider_timeout_seconds
        # Optional knobs (no Settings fields yet): how hcloud polls the actions we wait on.
        self._poll_interval = float(getattr(settings, "hetzner_poll_interval_seconds", 1.0))
        self._poll_retries = int(getattr(settings, "hetzner_poll_max_retries", 120))

    async def run(self, work: Callable[[Client], T]) -> T:
        if not self._token:
            raise CredentialRejected("The Hetzner Cloud credential has no API token.")
        client = Client(
            token=self._token, api_endpoint=self._endpoint, timeout=self._timeout,
            application_name="devopness-server", poll_interval=self._poll_interval,
            poll_max_retries=self._poll_retries,
        )
        try:
            return await asyncio.to_thread(work, client)
        except (CloudError, CredentialRejected):
            raise
        except (HCloudException, requests.RequestException) as exc:
            translated = _translate(exc)
            for note in getattr(exc, "__notes__", []):  # e.g. what cleanup left behind
                translated.add_note(note)
            raise translated from exc
        except Exception as exc:
            # hcloud parses every answer into its models: a shape it cannot read is the
            # provider answering something unexpected, not a crash of ours to hide.
            raise CloudError(
                f"Hetzner Cloud answered something unexpected ({type(exc).__name__}: {exc})."
            ) from exc


def _is_missing(exc: Exception) -> bool:
    return isinstance(exc, APIException) and exc.code in ("not_found", 404)

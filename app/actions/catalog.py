"""Fixed vocabularies of the reference: operations per resource type, human readable texts."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from enum import Enum
from typing import Any

from app.actions.models import ActionStatus, ReasonCode

ACTION_TYPES = (
    "check_provisioned", "configure", "delete", "deploy", "get_status", "provision",
    "reload", "remove", "restart", "rotate_key", "start", "stop",
)

RESOURCE_TYPES = (
    "application", "credential", "cronjob", "daemon", "deployment", "network",
    "network-rule", "server", "service", "ssh-key", "ssl-certificate", "subnet",
    "virtual-host",
)

# Operations whose default pipelines are created with a resource of each type.
DEFAULT_OPERATIONS: dict[str, tuple[str, ...]] = {
    "application": ("deploy",),
    "server": ("deploy", "get_status", "provision", "restart", "rotate_key", "start", "stop"),
    "service": ("deploy", "get_status", "reload", "restart", "start", "stop"),
    "daemon": ("deploy", "get_status", "remove", "restart", "start", "stop"),
    "cronjob": ("deploy", "remove"),
    "ssl-certificate": ("deploy", "remove"),
    "virtual-host": ("deploy", "get_status", "remove"),
    "network-rule": ("deploy", "remove"),
    "ssh-key": ("deploy", "remove"),
}

_RESOURCE_LABELS = {
    "ssh-key": "SSH Key",
    "ssl-certificate": "SSL Certificate",
    "cronjob": "Cron Job",
}

STATUS_LABELS = {
    ActionStatus.PENDING: "Pending",
    ActionStatus.WAITING: "Waiting",
    ActionStatus.SKIPPED: "Skipped",
    ActionStatus.QUEUED: "Queued",
    ActionStatus.IN_PROGRESS: "In progress",
    ActionStatus.COMPLETED: "Completed",
    ActionStatus.FAILED: "Failed",
}

REASON_LABELS = {
    ReasonCode.COMPLETED: "Completed: finished successfully.",
    ReasonCode.FAILED_INSUFFICIENT_CREDITS: "Failed: insufficient credits.",
    ReasonCode.FAILED: "Failed: an error occurred during execution.",
    ReasonCode.IN_PROGRESS: "In progress: currently running.",
    ReasonCode.PENDING: "Pending: created successfully but not yet queued for execution.",
    ReasonCode.QUEUED: "Queued: waiting for a worker to start it.",
    ReasonCode.SKIPPED: "Skipped: not executed.",
    ReasonCode.WAITING_CONCURRENCY_PIPELINE: (
        "Waiting: the pipeline already runs its maximum number of parallel actions."
    ),
    ReasonCode.WAITING_CONCURRENCY_TARGET: (
        "Waiting: the server already runs its maximum number of parallel actions."
    ),
}


def humanize(value: str) -> str:
    """`get_status` -> `Get Status`, `network-rule` -> `Network Rule`."""
    return " ".join(part.capitalize() for part in value.replace("-", "_").split("_") if part)


# Cached: an action's response labels every target and step (600 labels at 100 targets).
@functools.lru_cache(maxsize=256)
def resource_label(resource_type: str) -> str:
    return _RESOURCE_LABELS.get(resource_type) or humanize(resource_type)


def _fixed_or_humanized(labels: Mapping[Any, str], vocabulary: type[Enum], value: str) -> str:
    """The reference's text for a known value, else the value made readable."""
    try:
        return labels[vocabulary(value)]
    except (ValueError, KeyError):
        return humanize(value)


@functools.lru_cache(maxsize=64)
def status_label(status: str) -> str:
    return _fixed_or_humanized(STATUS_LABELS, ActionStatus, status)


@functools.lru_cache(maxsize=64)
def _reason_text(code: str) -> str:
    return _fixed_or_humanized(REASON_LABELS, ReasonCode, code)


def reason_label(code: str, message: str | None) -> str:
    return message or _reason_text(code)

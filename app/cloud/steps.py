"""What the engine's local steps share when they call a provider (cloud servers,
networks): the credential handed to the step, and provider failures as step failures."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping
from typing import TypeVar

from app.actions import builtins
from app.cloud.base import CredentialRejected

_CREDENTIAL = "cloud_credential"
T = TypeVar("T")


def credential_context(values: Mapping[str, str]) -> builtins.ScriptContext:
    """The decrypted credential, for Python steps only (never exported to scripts), its
    values redacted from every log."""
    return builtins.ScriptContext(
        secrets=[v for v in values.values() if isinstance(v, str) and len(v) >= 8],
        private={_CREDENTIAL: json.dumps(dict(values))},
    )


def credential(step: builtins.StepRuntime) -> dict[str, str]:
    values: dict[str, str] = json.loads(step.context.private.get(_CREDENTIAL, "{}"))
    return values


def failure(what: str, exc: Exception) -> builtins.StepError:
    if isinstance(exc, CredentialRejected):
        return builtins.StepError(f"{what}: the provider rejected the credential ({exc}).")
    return builtins.StepError(f"{what}: {exc}")


async def call(what: str, work: Awaitable[T]) -> T:
    """Await a provider call; its failure fails the step with `what` and the reason."""
    try:
        return await work
    except Exception as exc:
        raise failure(what, exc) from exc

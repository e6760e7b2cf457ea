"""What the engine's local steps share when they call a provider (cloud servers,
networks): the credential handed to the step, and provider failures as step failures."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.cloud.base import CredentialRejected
from app.core.security import SecretBox
from app.credentials.repository import CredentialRepository
from app.credentials.secrets import unseal

_CREDENTIAL = "cloud_credential"
T = TypeVar("T")


def credential_context(values: Mapping[str, str]) -> builtins.ScriptContext:
    """The decrypted credential, for Python steps only (never exported to scripts), its
    values redacted from every log."""
    return builtins.ScriptContext(
        secrets=[v for v in values.values() if isinstance(v, str) and len(v) >= 8],
        private={_CREDENTIAL: json.dumps(dict(values))},
    )


async def credential_context_for(
    session: AsyncSession, box: SecretBox, credential_id: int | None, environment_id: int
) -> builtins.ScriptContext:
    """The credential a resource of `environment_id` names, opened only if it is still
    usable there (`CredentialRepository.usable_in`: linked to the environment and owned by
    its organization or personal project). Checked at run time, whatever was checked when
    the id was stored: a credential of another scope is never decrypted for the step."""
    credential = (
        await CredentialRepository(session).usable_in(credential_id, environment_id)
        if credential_id is not None
        else None
    )
    if credential is None:
        raise builtins.ContextUnavailable(
            f"Credential {credential_id} cannot be used here: it no longer exists, is not "
            "linked to this environment or belongs to another organization. Choose a "
            "credential of this environment."
        )
    return credential_context(unseal(box, credential.settings_encrypted))


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

"""`record_event`: every domain's services call it in the same transaction as the change.

    before = snapshot(server, AUDITED_FIELDS)
    server.name = data.name
    record_event(session, principal, ip, "server", server.id, "updated",
                 before, snapshot(server, AUDITED_FIELDS))

Who (user and, for API tokens, the token), from where (IP) and what changed (before and
after of each changed field) are kept; values of secret-looking fields are masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.events.models import ResourceEvent

MASK = "********"

# A field whose name contains one of these never has its value stored in the log.
SECRET_MARKERS = (
    "secret", "password", "token", "private_key", "api_key", "encrypted", "service_account",
)


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    if lowered.endswith("_id"):
        return False  # a reference to a secret-bearing row is not the secret
    return any(marker in lowered for marker in SECRET_MARKERS)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in fields}


def diff(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    secret_fields: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    before = before or {}
    after = after or {}
    secrets = set(secret_fields)
    changes: dict[str, dict[str, Any]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = _plain(before.get(name)), _plain(after.get(name))
        if old == new and name in before and name in after:
            continue
        if name in secrets or is_secret_field(name):
            # The log says that a secret changed, never what it was or became.
            old = MASK if name in before and before.get(name) is not None else None
            new = MASK if name in after and after.get(name) is not None else None
        changes[name] = {"before": old, "after": new}
    return changes


def record_event(
    session: AsyncSession,
    principal: Principal | None,
    ip: str | None,
    resource_type: str,
    resource_id: int,
    action: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    *,
    message: str | None = None,
    environment_id: int | None = None,
    secret_fields: Iterable[str] = (),
) -> ResourceEvent:
    """Add an event to the session; it is written by the caller's flush/commit.

    `principal` is None for events without a person behind them (a hook request, the
    engine). `action` is the event type: created, updated, deleted, linked, get-status...
    """
    event = ResourceEvent(
        resource_type=resource_type,
        resource_id=resource_id,
        event_type=action,
        message=message[:500] if message else None,
        triggered_by=principal.user_id if principal else None,
        token_id=principal.token_id if principal else None,
        principal_kind=principal.kind.value if principal else None,
        ip_address=ip[:64] if ip else None,
        changes=diff(before, after, secret_fields=secret_fields),
        environment_id=environment_id,
    )
    session.add(event)
    return event

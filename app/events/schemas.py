from __future__ import annotations

from typing import Any

from app.core.schemas import ResponseModel, Timestamp
from app.users.schemas import Subscription


class ResourceEventChange(ResponseModel):
    before: Any = None
    after: Any = None


class ResourceEventRelation(ResponseModel):
    id: int
    event_type: str
    resource_type: str
    resource_id: int
    message: str | None
    triggered_by: int | None
    # Beyond the reference: the audit details (extra fields the SDK's models ignore).
    token_id: str | None
    principal_kind: str | None
    ip_address: str | None
    changes: dict[str, ResourceEventChange]
    created_at: Timestamp
    updated_at: Timestamp


class ResourceEvent(ResponseModel):
    resource_type: str
    resource_id: int
    resource_data: Subscription

from __future__ import annotations

from app.core.schemas import ResponseModel, Timestamp


class RoleRelation(ResponseModel):
    id: int
    name: str
    description: str
    is_predefined: bool
    permissions: list[str]
    created_at: Timestamp
    updated_at: Timestamp

from __future__ import annotations

from app.core.schemas import ResponseModel, Timestamp


class OrganizationRelation(ResponseModel):
    id: int
    name: str
    url_slug: str
    created_at: Timestamp
    updated_at: Timestamp

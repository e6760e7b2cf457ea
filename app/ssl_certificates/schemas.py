from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.resources_common.relations import SslCertificateRelation as SslCertificateRelation
from app.resources_common.schemas import Id
from app.users.schemas import UserRelation

Pem = Annotated[str, StringConstraints(strip_whitespace=True, min_length=100, max_length=4096)]
Issuer = Literal["custom", "lets-encrypt"]
CertificateType = Literal["single-domain", "multi-domain", "wildcard"]
ValidationLevel = Literal["DV", "OV", "EV"]


class SslCertificateEnvironmentCreate(RequestModel):
    virtual_host_id: Id
    issuer: Issuer
    type: CertificateType = "single-domain"
    validation_level: ValidationLevel = "DV"
    custom_private_key: Pem | None = Field(default=None, validate_default=True)
    custom_certificate: Pem | None = Field(default=None, validate_default=True)

    @field_validator("custom_private_key", "custom_certificate")
    @classmethod
    def _only_for_custom(cls, value: str | None, info: ValidationInfo) -> str | None:
        issuer = info.data.get("issuer")
        if issuer == "custom" and value is None:
            raise ValueError("required when issuer is custom")
        if issuer == "lets-encrypt" and value is not None:
            raise ValueError("only accepted when issuer is custom")
        return value


class SslCertificate(ResponseModel):
    id: int
    name: str
    type: CertificateType
    issuer: Issuer
    validation_level: ValidationLevel
    active: bool
    created_by_user: UserRelation
    last_action: None = None
    expires_at: Timestamp | None
    last_renewed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp

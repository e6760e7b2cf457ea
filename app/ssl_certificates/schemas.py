from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints, model_validator

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
    custom_private_key: Pem | None = None
    custom_certificate: Pem | None = None

    @model_validator(mode="after")
    def _custom_needs_material(self) -> SslCertificateEnvironmentCreate:
        if self.issuer == "custom":
            if self.custom_certificate is None or self.custom_private_key is None:
                raise ValueError(
                    "custom_certificate and custom_private_key are required when issuer "
                    "is custom"
                )
        elif self.custom_certificate is not None or self.custom_private_key is not None:
            raise ValueError("custom_certificate and custom_private_key are only for custom")
        return self


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

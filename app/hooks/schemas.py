from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from app.core.schemas import RequestModel, ResponseModel, Timestamp
from app.users.schemas import UserRelation

HookName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
HookTypeParam = Literal["incoming", "outgoing"]
SECRET_ALGORITHMS = ("sha256", "sha1", "sha512", "token")


class HookVariable(RequestModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    path: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    type: Literal["string", "integer", "array", "boolean"] = "string"
    required: bool = False
    default_value: Any = None


class HookIncomingSettingsIn(RequestModel):
    variables: list[HookVariable] = Field(default_factory=list, max_length=50)


class HookRequestHeader(RequestModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256,
                                           pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")]
    value: Annotated[str, StringConstraints(max_length=4096)]


class HookOutgoingSettingsIn(RequestModel):
    request_headers: list[HookRequestHeader] = Field(default_factory=list, max_length=50)
    request_body: str | dict[str, Any] | list[dict[str, Any]] | None = None


class TriggerCondition(RequestModel):
    name: Annotated[str, StringConstraints(max_length=255)] | None = None
    type: Literal["request_body"] = "request_body"
    path: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    accepted_values: list[bool | int | float | str | None] = Field(min_length=1, max_length=100)


class HookTriggerWhenIn(RequestModel):
    events: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=20
    )
    conditions: list[TriggerCondition] = Field(default_factory=list, max_length=20)


class HookCreate(RequestModel):
    name: HookName
    active: bool = True
    requires_secret: bool = False
    secret_algorithm: Literal["sha256", "sha1", "sha512", "token"] | None = None
    secret_header_name: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    ] | None = None
    trigger_when: HookTriggerWhenIn | None = None
    settings: dict[str, Any] | None = None
    # Beyond the documented body: where an outgoing hook sends its requests.
    target_url: Annotated[
        str, StringConstraints(max_length=2048, pattern=r"^https?://\S+$")
    ] | None = None
    verify_ssl: bool = True


class HookUpdate(HookCreate):
    id: Annotated[str, StringConstraints(max_length=36)]
    active: bool | None = None  # type: ignore[assignment]
    requires_secret: bool | None = None  # type: ignore[assignment]
    verify_ssl: bool | None = None  # type: ignore[assignment]


class HookRelation(ResponseModel):
    id: str
    name: str
    type: str
    action_type: str
    url: str | None = None  # filled from PUBLIC_URL by the router
    target_url: str | None
    is_auto_generated: bool
    requires_secret: bool
    verify_ssl: bool
    active: bool
    project_id: int
    environment_id: int
    pipeline_id: int | None
    resource_type: str
    resource_id: int
    settings: dict[str, Any]
    trigger_when: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp

    @field_validator("settings", mode="after")
    @classmethod
    def _one_settings_shape(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """The reference's settings are `oneOf` the incoming and the outgoing shape, and
        neither requires a key, so an object matches exactly one only when the keys of the
        other shape are present and null: a hook shows its own keys and nulls the others."""
        if info.data.get("type") == "out":
            own = {"request_headers": list(value.get("request_headers") or [])}
            if value.get("request_body") is not None:
                own["request_body"] = value["request_body"]
            return {**own, "variables": None}
        return {"variables": list(value.get("variables") or []),
                "request_headers": None, "request_body": None}


class Hook(HookRelation):
    secret: str
    secret_algorithm: str | None
    secret_header_name: str | None
    created_by_user: UserRelation | None


class HookTriggerResponse(ResponseModel):
    message: str
    errors: dict[str, list[str]] | None = None


class RequestRelation(ResponseModel):
    id: str
    hook_id: str
    action_id: int | None
    retry_of: str | None
    ip_address: str
    url: str
    response_status_code: int
    created_at: Timestamp
    updated_at: Timestamp


class HookRequest(RequestRelation):
    request_headers: dict[str, Any]
    request_body: dict[str, Any]
    response_headers: dict[str, Any]
    response_body: dict[str, Any]
    hook: HookRelation

    @field_validator("request_body", "response_body", mode="before")
    @classmethod
    def _as_object(cls, value: Any) -> dict[str, Any]:
        # The reference documents objects; a list or a text body is wrapped, not lost.
        if isinstance(value, dict):
            return value
        return {} if value is None else {"content": value}

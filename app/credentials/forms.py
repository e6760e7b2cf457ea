"""A provider's credential form: what a client is shown to fill in (`provider_settings`),
and what it sends back, validated into the values that are sealed (`credential_values`),
an OAuth callback code exchanged for its token on the way."""

from __future__ import annotations

import json
from typing import Any

from app.catalogue.service import cloud_service_summary
from app.core.errors import BadGateway, NotFound, ValidationFailed
from app.core.settings import Settings
from app.credentials import catalogue
from app.credentials.catalogue import AuthType, Provider, ProviderType
from app.credentials.providers import oauth_redirect_uri, source_adapter
from app.credentials.providers.base import CredentialRejected, ProviderError
from app.credentials.schemas import CredentialInputSettings


def _filled(fields: tuple[catalogue.InputField, ...], raw: dict[str, Any]) -> dict[str, str]:
    """The values of `fields` the client filled in, trimmed; a 422 naming every bad one."""
    errors = catalogue.validate_fields(fields, raw)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), {k: [v] for k, v in errors.items()})
    return {f.name: str(raw[f.name]).strip() for f in fields if raw.get(f.name)}


def provider_or_422(code: str, provider_type: ProviderType) -> Provider:
    definition = catalogue.provider(code)
    if definition is None:
        raise ValidationFailed.field("provider_code", "The selected provider code is invalid.")
    if definition.type is not provider_type:
        raise ValidationFailed.field(
            "provider_type", f"The provider {code} is a {definition.type.value}."
        )
    return definition


async def credential_values(
    settings: Settings, definition: Provider, data: CredentialInputSettings
) -> tuple[AuthType, dict[str, str]]:
    """The values to seal for `definition` from what the client sent, and how they
    authenticate."""
    raw: dict[str, Any] = data.credential
    if definition.type is ProviderType.CLOUD:
        values = _filled(definition.fields, raw)
        if definition.code == "gcp":
            _check_gcp_key(values["service_account_key"])
        return AuthType.API_CREDENTIALS, values
    auth = raw.get("auth_type") or ("oauth" if raw.get("callback_code") else None)
    if auth is None:
        raise ValidationFailed.field(
            "settings.credential.auth_type", "The auth type field is required."
        )
    if auth not in {a.value for a in AuthType}:
        raise ValidationFailed.field(
            "settings.credential.auth_type", "The selected auth type is invalid."
        )
    if auth == AuthType.API_CREDENTIALS:
        return AuthType.API_CREDENTIALS, _filled(definition.token_fields, raw)
    if auth == AuthType.APPLICATION:
        raise ValidationFailed.field(
            "settings.credential.auth_type",
            "Application installations are not supported by this server; use oauth or "
            "api_credentials.",
        )
    return AuthType.OAUTH, await _oauth_values(settings, definition, raw)


def _check_gcp_key(key: str) -> None:
    try:
        parsed = json.loads(key)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(
        isinstance(parsed.get(k), str) for k in ("client_email", "private_key", "project_id")
    ):
        raise ValidationFailed.field(
            "settings.credential.service_account_key",
            "The service account key must be a JSON key with client_email, private_key "
            "and project_id.",
        )


async def _oauth_values(
    settings: Settings, definition: Provider, raw: dict[str, Any]
) -> dict[str, str]:
    code = raw.get("callback_code")
    if not isinstance(code, str) or not code.strip() or len(code) > 512:
        raise ValidationFailed.field(
            "settings.credential.callback_code", "The callback code field is required."
        )
    adapter = source_adapter(definition.code, settings)
    redirect = oauth_redirect_uri(settings, definition.code)
    if adapter is None or adapter.connect_url(redirect, None) is None:
        env = definition.code.upper()
        raise ValidationFailed.field(
            "settings.credential.auth_type",
            f"OAuth for {definition.name} is not configured on this server "
            f"(set {env}_CLIENT_ID and {env}_CLIENT_SECRET), use api_credentials.",
        )
    try:
        token = await adapter.exchange_code(code.strip(), redirect)
    except CredentialRejected as exc:
        raise ValidationFailed.field("settings.credential.callback_code", str(exc)) from exc
    except ProviderError as exc:
        raise BadGateway(f"{definition.name} could not be reached: {exc}") from exc
    values = {"access_token": token.access_token}
    if token.refresh_token:
        values["refresh_token"] = token.refresh_token
    if token.expires_at:
        values["expires_at"] = token.expires_at.isoformat()
    return values



def _input_setting(f: catalogue.InputField) -> dict[str, Any]:
    return {
        "name": f.name,
        "name_human_readable": f.human,
        "default_value": None,
        "sensitive": f.sensitive,
        "validation": {"required": f.required, "type": f.kind, "min": f.min, "max": f.max,
                       "allowed_values": []},
    }


def provider_settings(settings: Settings, code: str, state: str | None) -> dict[str, Any]:
    """What a client needs to build the create form of one provider's credential."""
    definition = catalogue.provider(code)
    if definition is None:
        raise NotFound("Provider not found.")
    if definition.type is ProviderType.CLOUD:
        return {
            "input_settings": [_input_setting(f) for f in definition.fields],
            "cloud_services": [cloud_service_summary(definition.cloud_service)]
            if definition.cloud_service
            else [],
        }
    methods: list[dict[str, Any]] = [
        {
            "auth_type": AuthType.API_CREDENTIALS.value,
            "auth_type_human_readable": f"{definition.name} access token",
            "hint": definition.hint,
            "recommended": True,
            "input_settings": [_input_setting(f) for f in definition.token_fields],
            "provider_config": [],
        }
    ]
    adapter = source_adapter(code, settings)
    connect = adapter.connect_url(oauth_redirect_uri(settings, code), state) if adapter else None
    if connect is not None:
        methods.append(
            {
                "auth_type": AuthType.OAUTH.value,
                "auth_type_human_readable": f"{definition.name} OAuth",
                "hint": f"Authorize this server on {definition.name}; the provider redirects "
                "back with a code to send as callback_code.",
                "recommended": False,
                "connect_url": connect,
                "input_settings": [
                    _input_setting(catalogue.InputField("callback_code", "Callback code", True))
                ],
                "provider_config": [
                    {"field": "callback_code", "query_string": "code", "required": True,
                     "type": "string"}
                ],
            }
        )
    return {"auth_methods": methods}

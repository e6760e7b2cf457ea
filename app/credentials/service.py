"""Credentials: stored sealed, checked against their provider only on get-status."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.applications.models import Application
from app.catalogue.service import cloud_service_summary
from app.core.errors import (
    BadGateway,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from app.core.pagination import PageParams
from app.core.security import SecretBox
from app.core.settings import Settings, get_settings
from app.credentials import catalogue
from app.credentials.catalogue import AuthType, Provider, ProviderType
from app.credentials.models import Credential, CredentialEnvironment
from app.credentials.providers import cloud_adapter, oauth_redirect_uri, source_adapter
from app.credentials.providers.base import CheckResult, CredentialRejected, ProviderError
from app.credentials.repository import CredentialRepository
from app.credentials.schemas import (
    CredentialCreate,
    CredentialInputSettings,
    CredentialUpdate,
    Repository,
    RepositoryRelation,
)
from app.credentials.secrets import seal, unseal
from app.environments.models import Environment
from app.events.audit import record_event, snapshot
from app.networks.models import Network, Subnet
from app.projects.models import Project
from app.resource_links.registry import ResourceRef, ResourceType
from app.resource_links.service import forget_resource
from app.servers.models import Server

AUDITED = ("name", "active", "provider_code", "auth_type", "settings_encrypted")
NOT_FOUND = "Credential not found."


def _field_errors(errors: dict[str, str]) -> ValidationFailed:
    return ValidationFailed(next(iter(errors.values())), {k: [v] for k, v in errors.items()})


def _provider_or_422(code: str, provider_type: ProviderType) -> Provider:
    definition = catalogue.provider(code)
    if definition is None:
        raise ValidationFailed.field("provider_code", "The selected provider code is invalid.")
    if definition.type is not provider_type:
        raise ValidationFailed.field(
            "provider_type", f"The provider {code} is a {definition.type.value}."
        )
    return definition


class CredentialService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.credentials = CredentialRepository(session)
        self.authorizer = Authorizer(session)

    @property
    def box(self) -> SecretBox:
        return SecretBox(self.settings)

    # ------------------------------------------------------------------ authorization

    async def authorize(
        self, principal: Principal, credential_id: int, permission: str
    ) -> Credential:
        """The credential if the caller reaches it through its organization, its personal
        project or an environment it is linked to (else 404), holding `permission` (else 403).
        """
        credential = await self.credentials.get(credential_id)
        if credential is None:
            raise NotFound(NOT_FOUND)
        seen = False
        owner_permissions: frozenset[str] | None = None
        if credential.organization is not None:
            owner_permissions = await self.authorizer.organization_permissions(
                principal, credential.organization
            )
        elif credential.project_id is not None:
            project = await self.session.get(Project, credential.project_id)
            if project is not None:
                owner_permissions = await self.authorizer.project_permissions(principal, project)
        if owner_permissions is not None:
            seen = True
            if permission in owner_permissions:
                credential.remember_permissions(owner_permissions)
                return credential
        for environment_id in await self.credentials.environment_ids(credential.id):
            try:
                environment = await self.authorizer.environment(
                    principal, environment_id, permission, not_found=NOT_FOUND
                )
            except Forbidden:
                seen = True
                continue
            except NotFound:
                continue
            credential.remember_permissions(environment.current_user_permissions)
            return credential
        if seen:
            raise Forbidden(f"You are not allowed to {permission.split(':')[1]} this credential.")
        raise NotFound(NOT_FOUND)

    # ------------------------------------------------------------------ settings input

    async def _values(
        self, definition: Provider, settings: CredentialInputSettings
    ) -> tuple[AuthType, dict[str, str]]:
        raw: dict[str, Any] = settings.credential
        if definition.type is ProviderType.CLOUD:
            errors = catalogue.validate_fields(definition.fields, raw)
            if errors:
                raise _field_errors(errors)
            values = {
                f.name: str(raw[f.name]).strip() for f in definition.fields if raw.get(f.name)
            }
            if definition.code == "gcp":
                self._check_gcp_key(values["service_account_key"])
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
            errors = catalogue.validate_fields(definition.token_fields, raw)
            if errors:
                raise _field_errors(errors)
            values = {
                f.name: str(raw[f.name]).strip() for f in definition.token_fields if raw.get(f.name)
            }
            return AuthType.API_CREDENTIALS, values
        if auth == AuthType.APPLICATION:
            raise ValidationFailed.field(
                "settings.credential.auth_type",
                "Application installations are not supported by this server; use oauth or "
                "api_credentials.",
            )
        return AuthType.OAUTH, await self._oauth_values(definition, raw)

    @staticmethod
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

    async def _oauth_values(self, definition: Provider, raw: dict[str, Any]) -> dict[str, str]:
        code = raw.get("callback_code")
        if not isinstance(code, str) or not code.strip() or len(code) > 512:
            raise ValidationFailed.field(
                "settings.credential.callback_code", "The callback code field is required."
            )
        adapter = source_adapter(definition.code, self.settings)
        redirect = oauth_redirect_uri(self.settings, definition.code)
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

    # ------------------------------------------------------------------ reads

    async def list_for_environment(
        self, principal: Principal, environment_id: int, page: PageParams,
        provider_code: str | None, provider_type: str | None,
    ) -> Sequence[Credential]:
        await self.authorizer.environment(principal, environment_id, "credential:read")
        return await self.credentials.page(
            self.credentials.linked_to(environment_id), page,
            provider_code=provider_code, provider_type=provider_type,
        )

    async def list_for_organization(
        self, principal: Principal, organization_key: str, page: PageParams,
        provider_code: str | None, provider_type: str | None,
    ) -> Sequence[Credential]:
        organization = await self.authorizer.organization(
            principal, organization_key, "credential:read"
        )
        return await self.credentials.page(
            self.credentials.of_organization(organization.id), page,
            provider_code=provider_code, provider_type=provider_type,
        )

    async def environment_organization(
        self, principal: Principal, environment_id: int
    ) -> int | None:
        """For the settings endpoint: the organization owning the environment's project."""
        environment = await self.authorizer.environment(
            principal, environment_id, "credential:read"
        )
        project = await self.session.get(Project, environment.project_id)
        return project.organization_id if project else None

    async def organization(self, principal: Principal, organization_key: str) -> int:
        organization = await self.authorizer.organization(
            principal, organization_key, "credential:read"
        )
        return organization.id

    async def get(self, principal: Principal, credential_id: int) -> Credential:
        return await self.authorize(principal, credential_id, "credential:read")

    # ------------------------------------------------------------------ writes

    async def _create(
        self, principal: Principal, ip: str, data: CredentialCreate,
        organization_id: int | None, project_id: int | None,
    ) -> Credential:
        definition = _provider_or_422(data.provider_code, data.provider_type)
        auth_type, values = await self._values(definition, data.settings)
        credential = Credential(
            name=data.name,
            provider_code=definition.code,
            provider_type=definition.type.value,
            auth_type=auth_type.value,
            active=data.active,
            organization_id=organization_id,
            project_id=project_id,
            created_by=principal.user_id,
            settings_encrypted=seal(self.box, values),
        )
        await self.credentials.add(credential)
        record_event(
            self.session, principal, ip, "credential", credential.id, "created",
            None, snapshot(credential, AUDITED),
        )
        loaded = await self.credentials.get(credential.id)
        assert loaded is not None
        return loaded

    async def create_for_organization(
        self, principal: Principal, ip: str, organization_key: str, data: CredentialCreate
    ) -> Credential:
        organization = await self.authorizer.organization(
            principal, organization_key, "credential:create"
        )
        credential = await self._create(principal, ip, data, organization.id, None)
        credential.remember_permissions(organization.current_user_permissions)
        return credential

    async def create_for_environment(
        self, principal: Principal, ip: str, environment_id: int, data: CredentialCreate
    ) -> Credential:
        environment = await self.authorizer.environment(
            principal, environment_id, "credential:create"
        )
        project = await self.session.get(Project, environment.project_id)
        assert project is not None
        credential = await self._create(
            principal, ip, data, project.organization_id,
            None if project.organization_id else project.id,
        )
        await self.credentials.link(credential.id, environment.id)
        credential.remember_permissions(environment.current_user_permissions)
        return credential

    async def update(
        self, principal: Principal, ip: str, credential_id: int, data: CredentialUpdate
    ) -> None:
        credential = await self.authorize(principal, credential_id, "credential:update")
        if data.id != credential.id:
            raise ValidationFailed.field("id", "The id must match the credential in the URL.")
        before = snapshot(credential, AUDITED)
        credential.name = data.name
        if data.settings is not None:
            definition = catalogue.provider(credential.provider_code)
            assert definition is not None
            auth_type, values = await self._values(definition, data.settings)
            credential.auth_type = auth_type.value
            credential.settings_encrypted = seal(self.box, values)
            credential.status = None
            credential.status_message = None
            credential.status_checked_at = None
        await self.session.flush()
        record_event(
            self.session, principal, ip, "credential", credential.id, "updated",
            before, snapshot(credential, AUDITED),
        )

    async def delete(self, principal: Principal, ip: str, credential_id: int) -> None:
        credential = await self.authorize(principal, credential_id, "credential:delete")
        users = await self._users(credential.id)
        if users:
            listed = ", ".join(f"{count} {kind}(s)" for kind, count in users)
            raise Conflict(f"The credential is used by {listed}; change or delete them first.")
        record_event(
            self.session, principal, ip, "credential", credential.id, "deleted",
            snapshot(credential, AUDITED), None,
        )
        await forget_resource(self.session, "credential", credential.id)
        await self.credentials.delete(credential)

    async def _users(self, credential_id: int) -> list[tuple[str, int]]:
        """What uses the credential, by kind: networks and subnets by their key, applications
        and servers while it is linked to their environment (the rule that lets them use
        it; a stale id elsewhere does not hold the credential)."""
        linked = select(CredentialEnvironment.environment_id).where(
            CredentialEnvironment.credential_id == credential_id
        )
        conditions: list[tuple[str, Any]] = [
            ("network", Network.credential_id == credential_id),
            ("subnet", Subnet.credential_id == credential_id),
            ("application", and_(Application.credential_id == credential_id,
                                 Application.environment_id.in_(linked))),
            ("server", and_(Server.credential_id == credential_id,
                            Server.environment_id.in_(linked))),
        ]
        found = []
        for kind, condition in conditions:
            count = await self.session.scalar(select(func.count()).where(condition))
            if count:
                found.append((kind, int(count)))
        return found

    async def _environment_for_link(
        self, principal: Principal, environment_id: int
    ) -> tuple[Environment, Project]:
        environment = await self.authorizer.environment(
            principal, environment_id, "credential:update"
        )
        project = await self.session.get(Project, environment.project_id)
        assert project is not None
        return environment, project

    async def link(
        self, principal: Principal, ip: str, environment_id: int, credential_id: int
    ) -> None:
        environment, project = await self._environment_for_link(principal, environment_id)
        credential = await self.authorize(principal, credential_id, "credential:read")
        same_owner = (
            credential.organization_id is not None
            and credential.organization_id == project.organization_id
        ) or (credential.project_id is not None and credential.project_id == project.id)
        if not same_owner:
            raise ValidationFailed.field(
                "credential_id",
                "The credential belongs to another organization than the environment.",
            )
        if not await self.credentials.link(credential.id, environment.id):
            raise ValidationFailed.field(
                "credential_id", "The credential is already linked to this environment."
            )
        record_event(
            self.session, principal, ip, "credential", credential.id, "linked",
            message=f"linked to environment {environment.id}", environment_id=environment.id,
        )

    async def unlink(
        self, principal: Principal, ip: str, environment_id: int, credential_id: int
    ) -> None:
        environment, _ = await self._environment_for_link(principal, environment_id)
        credential = await self.authorize(principal, credential_id, "credential:read")
        if not await self.credentials.unlink(credential.id, environment.id):
            raise NotFound("The credential is not linked to this environment.")
        record_event(
            self.session, principal, ip, "credential", credential.id, "unlinked",
            message=f"unlinked from environment {environment.id}", environment_id=environment.id,
        )

    # ------------------------------------------------------------------ provider calls

    def secret_values(self, credential: Credential) -> dict[str, str]:
        """The decrypted settings, for provider calls only: never for a response or a log."""
        return unseal(self.box, credential.settings_encrypted)

    async def check_status(
        self, principal: Principal, ip: str, credential_id: int
    ) -> CheckResult:
        credential = await self.authorize(principal, credential_id, "credential:get-status")
        values = self.secret_values(credential)
        adapter = (
            cloud_adapter(credential.provider_code, self.settings)
            if credential.provider_type == ProviderType.CLOUD
            else source_adapter(credential.provider_code, self.settings)
        )
        if adapter is None:
            raise ValidationFailed.field("provider_code", "This provider cannot be checked.")
        result = await adapter.check(values)
        before = {"status": credential.status}
        credential.status = "valid" if result.ok else "invalid"
        credential.status_message = result.message[:500]
        credential.status_checked_at = datetime.now(UTC)
        await self.session.flush()
        record_event(
            self.session, principal, ip, "credential", credential.id, "get-status",
            before, {"status": credential.status}, message=credential.status_message,
        )
        return result

    async def _source(self, principal: Principal, credential_id: int) -> tuple[Any, dict[str, str]]:
        credential = await self.authorize(principal, credential_id, "credential:read")
        adapter = source_adapter(credential.provider_code, self.settings)
        if adapter is None:
            raise ValidationFailed.field(
                "credential_id", "Only source provider credentials have repositories."
            )
        return adapter, self.secret_values(credential)

    async def repositories(
        self, principal: Principal, credential_id: int, page: PageParams
    ) -> Sequence[RepositoryRelation]:
        adapter, values = await self._source(principal, credential_id)
        try:
            items, total = await adapter.repositories(values, page.page, page.per_page)
        except CredentialRejected as exc:
            raise ValidationFailed.field("credential_id", str(exc)) from exc
        except ProviderError as exc:
            raise BadGateway(str(exc)) from exc
        page.write_link_header(total)
        result: list[RepositoryRelation] = items
        return result

    async def repository(
        self, principal: Principal, credential_id: int, owner: str, name: str
    ) -> Repository:
        adapter, values = await self._source(principal, credential_id)
        try:
            repository: Repository | None = await adapter.repository(values, owner, name)
        except CredentialRejected as exc:
            raise ValidationFailed.field("credential_id", str(exc)) from exc
        except ProviderError as exc:
            raise BadGateway(str(exc)) from exc
        if repository is None:
            raise NotFound("Repository not found.")
        return repository


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


async def _authorize_ref(
    session: AsyncSession, principal: Principal, credential_id: int, operation: str
) -> ResourceRef:
    credential = await CredentialService(session, get_settings()).authorize(
        principal, credential_id, f"credential:{operation}"
    )
    return _ref(credential)


def _ref(credential: Credential) -> ResourceRef:
    return ResourceRef(
        "credential", credential.id, credential.name, None, None, credential.project_id, None,
        credential.created_at, credential.updated_at,
    )


async def _describe(session: AsyncSession, ids: Sequence[int]) -> dict[int, ResourceRef]:
    rows = await session.scalars(select(Credential).where(Credential.id.in_(list(ids))))
    return {c.id: _ref(c) for c in rows.all()}


# Registered by `app.wiring`: credentials have their own event history
# (GET /events/credential/{id}).
CREDENTIAL_RESOURCE_TYPE = ResourceType("credential", "Credential", _authorize_ref, _describe)

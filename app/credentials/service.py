"""Credentials: their life cycle (stored sealed, audited, linked to environments) and the
calls that use them: checked against their provider only on get-status, a source
provider's repositories. Who may reach one is `app.credentials.access`; the form a client
fills in, `app.credentials.forms`."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.applications.models import Application
from app.core.errors import (
    BadGateway,
    Conflict,
    NotFound,
    ValidationFailed,
)
from app.core.pagination import PageParams
from app.core.security import SecretBox
from app.core.settings import Settings
from app.credentials import catalogue
from app.credentials.access import CredentialAccess
from app.credentials.catalogue import ProviderType
from app.credentials.forms import credential_values, provider_or_422
from app.credentials.models import Credential, CredentialEnvironment
from app.credentials.providers import cloud_adapter, source_adapter
from app.credentials.providers.base import CheckResult, CredentialRejected, ProviderError
from app.credentials.schemas import (
    CredentialCreate,
    CredentialUpdate,
    Repository,
    RepositoryRelation,
)
from app.credentials.secrets import seal, unseal
from app.environments.models import Environment
from app.events.audit import record_event, snapshot
from app.networks.models import Network, Subnet
from app.projects.models import Project
from app.resource_links.service import forget_resource
from app.servers.models import Server

AUDITED = ("name", "active", "provider_code", "auth_type", "settings_encrypted")
_T = TypeVar("_T")


class CredentialService(CredentialAccess):
    """Each call authorizes first (`CredentialAccess.authorize`), then acts."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        super().__init__(session)
        self.settings = settings

    @property
    def box(self) -> SecretBox:
        return SecretBox(self.settings)

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
        definition = provider_or_422(data.provider_code, data.provider_type)
        auth_type, values = await credential_values(self.settings, definition, data.settings)
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
            auth_type, values = await credential_values(self.settings, definition, data.settings)
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
        items, total = await _asked(adapter.repositories(values, page.page, page.per_page))
        page.write_link_header(total)
        result: list[RepositoryRelation] = items
        return result

    async def repository(
        self, principal: Principal, credential_id: int, owner: str, name: str
    ) -> Repository:
        adapter, values = await self._source(principal, credential_id)
        repository: Repository | None = await _asked(adapter.repository(values, owner, name))
        if repository is None:
            raise NotFound("Repository not found.")
        return repository



async def _asked(call: Awaitable[_T]) -> _T:
    """A source provider's answer; its refusal of the credential is the request's fault
    (422), its failure to answer the gateway's (502)."""
    try:
        return await call
    except CredentialRejected as exc:
        raise ValidationFailed.field("credential_id", str(exc)) from exc
    except ProviderError as exc:
        raise BadGateway(str(exc)) from exc

"""Authorization of environment resources and of every id a request names, through the
tenancy authorizer: the one lookup for references.

- `environment` / `resource`: what the URL names. Another tenant's resource answers 404 (its
  existence is never revealed); one the caller sees but may not change answers 403.
- `reference` / `references`: an id a request body names (a server to link, the application
  of a daemon, a subnet, a pipeline whose step is copied...). It must name a row of the
  scope the request works in (the environment, or the project for pipelines) and the
  caller must hold `<kind>:read` there: anything else is a 422 on the field (404 for ids
  from the URL), a row the caller sees without the permission is a 403. A foreign id and
  an unknown id answer alike.
- `credential`: a credential id. It must be usable in the environment (linked to it and
  owned by its organization or personal project, `CredentialRepository.usable_in`) and
  readable by the caller. The engine asks `usable_in` again when an action opens the
  credential (`app.cloud.steps.credential_context_for`), so a credential that left the
  resource's scope after it was stored is never sent to a provider.

Services never look up a body id with a bare `session.get`: they call one of these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.actions.catalog import resource_label
from app.core.errors import NotFound, ValidationFailed
from app.credentials.access import CredentialAccess
from app.credentials.catalogue import PROVIDERS, ProviderType
from app.credentials.models import Credential
from app.credentials.repository import CredentialRepository
from app.environments.models import Environment
from app.resources_common.models import EnvironmentResource


def reference_models() -> dict[str, Any]:
    """Reference kind -> model with `environment_id` and `project_id` columns."""
    from app.actions.models import Pipeline
    from app.networks.models import Network, Subnet
    from app.resources_common.registry import resource_models

    return {**resource_models(), "network": Network, "subnet": Subnet, "pipeline": Pipeline}


def _loaded(row: Any, *path: str) -> bool:
    """Whether the chain of many-to-one relations `path` is already loaded from `row`
    (a None along the way ends the chain: nothing more to load)."""
    for name in path:
        if row is None:
            return True
        if name in sa_inspect(row).unloaded:
            return False
        row = getattr(row, name)
    return True


class EnvironmentAccess:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.authorizer = Authorizer(session)

    async def environment(
        self, principal: Principal, environment_id: int, permission: str
    ) -> Environment:
        return await self.authorizer.environment(principal, environment_id, permission)

    async def resource(
        self, principal: Principal, resource: EnvironmentResource | None, permission: str,
        label: str,
    ) -> None:
        """Raise NotFound naming `label` unless the caller holds `permission` on it."""
        if resource is None:
            raise NotFound(f"{label} not found.")
        if _loaded(resource, "environment", "project", "organization"):
            await self.authorizer.loaded_environment(
                principal, resource.environment, permission, not_found=f"{label} not found.")
            return
        await self.authorizer.environment(
            principal, resource.environment_id, permission, not_found=f"{label} not found."
        )

    # ------------------------------------------------------------------ references

    async def reference(
        self,
        principal: Principal | None,
        kind: str,
        ref_id: int,
        *,
        field: str,
        environment_id: int | None = None,
        project_id: int | None = None,
        permission: str | None = None,
        not_found: str | None = None,
    ) -> int:
        """`ref_id` if it names a `kind` row of `environment_id` (or of `project_id`) that
        the caller may read (or hold `permission` on). `principal` None: the scope check
        alone, for a caller already authorized in that same environment."""
        assert environment_id is not None or project_id is not None
        label = resource_label(kind)

        def missing() -> Exception:
            if not_found is not None:
                return NotFound(not_found)
            where = "environment" if environment_id is not None else "project"
            return ValidationFailed.field(
                field, f"{label} {ref_id} does not exist in this {where}."
            )

        model = reference_models().get(kind)
        if model is None:
            raise missing()
        row = (
            await self.session.execute(
                select(model.environment_id, model.project_id).where(model.id == ref_id)
            )
        ).one_or_none()
        if row is None:
            raise missing()
        row_environment, row_project = row
        if environment_id is not None and row_environment != environment_id:
            raise missing()
        if project_id is not None and row_project != project_id:
            raise missing()
        if principal is None:
            return ref_id
        wanted = permission or f"{kind}:read"
        try:
            if row_environment is not None:
                await self.authorizer.environment(principal, row_environment, wanted)
            else:
                await self.authorizer.project(principal, row_project, wanted)
        except NotFound:
            raise missing() from None
        return ref_id

    async def references(
        self,
        principal: Principal | None,
        kind: str,
        ids: Iterable[int],
        *,
        field: str,
        environment_id: int,
    ) -> list[int]:
        """Each id through `reference` (errors name `field.<index>`), without repeats."""
        checked: list[int] = []
        for index, ref_id in enumerate(ids):
            await self.reference(
                principal, kind, ref_id, field=f"{field}.{index}", environment_id=environment_id
            )
            checked.append(ref_id)
        return list(dict.fromkeys(checked))

    async def credential(
        self,
        principal: Principal | None,
        credential_id: int,
        *,
        environment_id: int,
        field: str = "credential_id",
        provider_type: ProviderType | None = None,
        cloud_service_code: str | None = None,
        active: bool = False,
    ) -> Credential:
        """The credential a resource of `environment_id` is to use. 422 on `field` unless it
        is usable there (and of `provider_type` / for `cloud_service_code`, active when
        asked); 403 when the caller sees it without `credential:read`."""
        credential = await CredentialRepository(self.session).usable_in(
            credential_id, environment_id
        )
        if credential is None:
            raise ValidationFailed.field(
                field,
                "The selected credential is invalid: it must be a credential of this "
                "environment's organization, linked to the environment.",
            )
        if principal is not None:
            try:
                await CredentialAccess(self.session).authorize(
                    principal, credential.id, "credential:read"
                )
            except NotFound:
                raise ValidationFailed.field(
                    field, "The selected credential is invalid."
                ) from None
        definition = PROVIDERS.get(credential.provider_code)
        if provider_type is not None and (definition is None or definition.type is not
                                          provider_type):
            raise ValidationFailed.field(
                field, f"The credential is not a {provider_type.human_readable.lower()} one."
            )
        if cloud_service_code is not None:
            if definition is None or definition.type is not ProviderType.CLOUD:
                raise ValidationFailed.field(field, "The credential is not a cloud one.")
            if definition.cloud_service != cloud_service_code:
                raise ValidationFailed.field(
                    field,
                    f"The credential is for {definition.name}, not for {cloud_service_code}.",
                )
        if active and not credential.active:
            raise ValidationFailed.field(field, "The credential is not active.")
        return credential

    async def source_credential(
        self, principal: Principal, credential_id: int, *, environment_id: int,
        field: str = "credential_id",
    ) -> int:
        """An application's source credential: checked like any credential when the id
        names one. An id naming no credential at all is kept as given: clients send a
        placeholder for repositories that need none, and a deploy opens only a credential
        usable in the environment (`app.applications.remote.source_credential`)."""
        if await CredentialRepository(self.session).get(credential_id) is not None:
            await self.credential(
                principal, credential_id, environment_id=environment_id, field=field,
                provider_type=ProviderType.SOURCE,
            )
        return credential_id

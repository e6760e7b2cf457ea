"""Who may reach a credential: through its organization, its personal project, or an
environment it is linked to (`CredentialAccess.authorize`); and the credential as a
resource type of events and links (`CREDENTIAL_RESOURCE_TYPE`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.core.errors import Forbidden, NotFound
from app.credentials.models import Credential
from app.credentials.repository import CredentialRepository
from app.projects.models import Project
from app.resource_links.registry import ResourceRef, ResourceType

NOT_FOUND = "Credential not found."


class CredentialAccess:
    """Reaching a credential: the services of credentials and of the resources that use
    one ask here."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.credentials = CredentialRepository(session)
        self.authorizer = Authorizer(session)

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


async def _authorize_ref(
    session: AsyncSession, principal: Principal, credential_id: int, operation: str
) -> ResourceRef:
    credential = await CredentialAccess(session).authorize(
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

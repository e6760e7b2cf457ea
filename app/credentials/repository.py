from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.pagination import PageParams, paginate
from app.credentials.models import Credential, CredentialEnvironment
from app.environments.models import Environment
from app.projects.models import Project


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def with_relations(stmt: Select[Credential]) -> Select[Credential]:
        return stmt.options(
            selectinload(Credential.organization), selectinload(Credential.created_by_user)
        )

    def linked_to(self, environment_id: int) -> Select[Credential]:
        return select(Credential).join(
            CredentialEnvironment,
            (CredentialEnvironment.credential_id == Credential.id)
            & (CredentialEnvironment.environment_id == environment_id),
        )

    def of_organization(self, organization_id: int) -> Select[Credential]:
        return select(Credential).where(Credential.organization_id == organization_id)

    async def page(
        self,
        stmt: Select[Credential],
        page: PageParams,
        *,
        provider_code: str | None = None,
        provider_type: str | None = None,
    ) -> Sequence[Credential]:
        if provider_code:
            stmt = stmt.where(Credential.provider_code == provider_code)
        if provider_type:
            stmt = stmt.where(Credential.provider_type == provider_type)
        stmt = self.with_relations(stmt).order_by(Credential.name, Credential.id)
        return await paginate(self.session, stmt, page)

    async def get(self, credential_id: int) -> Credential | None:
        return await self.session.scalar(
            self.with_relations(select(Credential).where(Credential.id == credential_id))
        )

    async def usable_in(
        self, credential_id: int, environment_id: int, *, relations: bool = True
    ) -> Credential | None:
        """The credential, only if a resource of `environment_id` may use it: linked to that
        environment and owned by the environment's organization (or, for a personal project,
        by that project). Asked on create, on update and again when an action runs, so a
        credential that left the resource's scope is never opened for it. `relations=False`
        leaves its organization and creator unloaded (a deploy reads neither, per server)."""
        options = self.with_relations if relations else (lambda stmt: stmt)
        credential: Credential | None = await self.session.scalar(
            options(
                select(Credential)
                .join(
                    CredentialEnvironment,
                    and_(
                        CredentialEnvironment.credential_id == Credential.id,
                        CredentialEnvironment.environment_id == environment_id,
                    ),
                )
                .join(Environment, Environment.id == CredentialEnvironment.environment_id)
                .join(Project, Project.id == Environment.project_id)
                .where(
                    Credential.id == credential_id,
                    or_(
                        and_(
                            Credential.organization_id.is_not(None),
                            Credential.organization_id == Project.organization_id,
                        ),
                        and_(
                            Credential.project_id.is_not(None),
                            Credential.project_id == Project.id,
                        ),
                    ),
                )
            )
        )
        return credential

    async def environment_ids(self, credential_id: int) -> list[int]:
        rows = await self.session.scalars(
            select(CredentialEnvironment.environment_id)
            .where(CredentialEnvironment.credential_id == credential_id)
            .order_by(CredentialEnvironment.environment_id)
        )
        return list(rows.all())

    async def add(self, credential: Credential) -> None:
        self.session.add(credential)
        await self.session.flush()

    async def link(self, credential_id: int, environment_id: int) -> bool:
        exists = await self.session.get(CredentialEnvironment, (credential_id, environment_id))
        if exists is not None:
            return False
        self.session.add(
            CredentialEnvironment(credential_id=credential_id, environment_id=environment_id)
        )
        await self.session.flush()
        return True

    async def unlink(self, credential_id: int, environment_id: int) -> bool:
        result = await self.session.execute(
            delete(CredentialEnvironment).where(
                CredentialEnvironment.credential_id == credential_id,
                CredentialEnvironment.environment_id == environment_id,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def delete(self, credential: Credential) -> None:
        await self.session.delete(credential)
        await self.session.flush()

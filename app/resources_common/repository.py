"""SQL shared by every environment resource's repository."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.interfaces import LoaderOption

from app.core.pagination import PageParams, paginate
from app.environments.models import Environment
from app.projects.models import Project
from app.resources_common.models import EnvironmentResource

M = TypeVar("M", bound=EnvironmentResource)

_BY_ID: dict[type[Any], Select[Any]] = {}


def project_options(path: Any) -> list[LoaderOption]:
    """What a ProjectRelation needs, below the relationship `path`."""
    # Many-to-one all the way: joined into the resource's own SELECT rather than one
    # statement per relationship.
    return [
        joinedload(path).joinedload(Project.organization),
        joinedload(path).joinedload(Project.created_by_user),
    ]


def environment_options(model: Any) -> list[LoaderOption]:
    """What the environment, project and creator relations of a response need."""
    env = joinedload(model.environment)
    return [
        env.joinedload(Environment.project).joinedload(Project.organization),
        env.joinedload(Environment.project).joinedload(Project.created_by_user),
        *project_options(model.project),
        joinedload(model.created_by_user),
    ]


class EnvironmentResourceRepository(Generic[M]):
    model: type[M]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def options(self) -> list[LoaderOption]:
        return environment_options(self.model)

    def list_options(self) -> list[LoaderOption]:
        """What the compact (list) form needs; by default the same as the detail."""
        return self.options()

    def statement(self) -> Select[Any]:
        return select(self.model).options(*self.options())

    def _by_id(self) -> Select[Any]:
        # Built once per repository class (its options never depend on the request):
        # building the loader options and their cache key cost more than the SELECT itself.
        built = _BY_ID.get(type(self))
        if built is None:
            built = _BY_ID[type(self)] = self.statement().where(
                self.model.id == bindparam("resource_id"))
        return built

    async def list_in_environment(self, environment_id: int, page: PageParams) -> Sequence[M]:
        stmt = (
            select(self.model)
            .options(*self.list_options())
            .where(self.model.environment_id == environment_id)
            .order_by(self.model.id)
        )
        return await paginate(self.session, stmt, page)

    async def get(self, resource_id: int, *, fresh: bool = False) -> M | None:
        stmt = self._by_id()
        if fresh:
            # After a write: reload relationships the write may have changed.
            stmt = stmt.execution_options(populate_existing=True)
        resource: M | None = await self.session.scalar(stmt, {"resource_id": resource_id})
        return resource

    async def get_plain(self, resource_id: int) -> M | None:
        return await self.session.get(self.model, resource_id)

    async def ids_in_environment(self, environment_id: int, ids: Iterable[int]) -> set[int]:
        wanted = set(ids)
        if not wanted:
            return set()
        rows = await self.session.scalars(
            select(self.model.id).where(
                self.model.environment_id == environment_id, self.model.id.in_(wanted)
            )
        )
        return set(rows)

    async def add(self, resource: M) -> None:
        self.session.add(resource)
        await self.session.flush()

    async def delete(self, resource: M) -> None:
        await self.session.delete(resource)
        await self.session.flush()
